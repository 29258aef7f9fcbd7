"""The app on a database of its own (the own_db fixture) whose clock a test
sets: the way session timeouts and link expiry are tested, through the
clock setting the app reads (never by patching the standard library)."""
import datetime

from app.clock import fixed_clock
from app.db import database
from app.factory import create_app
from app.services import accounts
from tests.client import Client
from tests.conftest import PASSWORD, ServerThread, unique_email

UTC = datetime.timezone.utc


class ClockedSite:
    def __init__(self, settings):
        import tasks  # noqa: F401  (the views enqueue these)
        self.settings = settings
        self.start = datetime.datetime.now(UTC).replace(microsecond=0)
        self.app = create_app(settings, fixed_clock(settings.tz, self.start))
        self.server = ServerThread(self.app).start()
        self.url = self.server.url

    def set_time(self, **after_start):
        """Stop the app's clock at the start plus `after_start` (timedelta
        arguments)."""
        now = self.start + datetime.timedelta(**after_start)
        self.app.config['clinicdesk.clock'] = fixed_clock(self.settings.tz, now)

    def user(self, role='patient', password=PASSWORD):
        """A new account of `role`; returns its email."""
        email = unique_email(role)
        data = {'email': email, 'password': password, 'name': f'Test {role.title()}'}
        with database.connection_context():
            if role == 'patient':
                accounts.register_patient(data)
            elif role == 'doctor':
                accounts.create_doctor({**data, 'specialization': 'General practice'})
            else:
                accounts.create_or_reset_admin(email, password)
        return email

    def login(self, email, password=PASSWORD, user_agent='TestBrowser/1.0'):
        client = Client(self.url)
        resp = client.post('/api/login', {'email': email, 'password': password},
                           headers={'User-Agent': user_agent})
        assert resp.status == 200, resp
        client.csrf_token = resp.json['csrf_token']
        client.user = resp.json['user']
        return client

    def stop(self):
        self.server.stop()

