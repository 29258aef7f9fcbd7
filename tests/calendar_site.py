"""A ClinicDesk app whose clock stands still, for the calendar's HTTP tests:
the same database as the session's server, served by Waitress on a free
port, with its own settings (notice, horizon, cut-off) and a fixed "now"."""
import contextlib
import copy
import datetime
import uuid

from app.auth import hash_password
from app.clock import fixed_clock
from app.db import database
from app.factory import create_app
from app.models import Appointment, OutboxMessage, User
from app.services import accounts
from tests.client import Client
from tests.conftest import PASSWORD, ServerThread, create_user, set_week

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
# A Monday, 08:10 clinic time (the test zone is UTC): with the default
# 60-minute notice the first bookable start today is 09:30.
NOW = datetime.datetime(2031, 3, 3, 8, 10, tzinfo=UTC)
MONDAY = NOW.date()


def day(offset=0):
    """The date `offset` days after MONDAY, as the API writes it."""
    return (MONDAY + DAY * offset).isoformat()


@contextlib.contextmanager
def site(settings, now=NOW, **changes):
    """The app at `now` with `changes` to its settings, on a free port.
    Its sessions outlast the timeouts: tests carry one session between apps
    whose clocks stand hours apart."""
    import tasks  # noqa: F401  (the views enqueue these)
    changes = {'session_idle_minutes': 24 * 60, 'session_max_hours': 48, **changes}
    app = create_app(settings.with_changes(**changes), fixed_clock(settings.tz, now))
    server = ServerThread(app).start()
    try:
        yield server
    finally:
        server.stop()


def at(client, url):
    """The same logged-in client, talking to the app at `url`: the session
    cookie is for the host, whatever the port."""
    moved = copy.copy(client)
    moved.base_url = url
    return moved


def reception(url, name='Front Desk'):
    """A logged-in front-desk account (SPEC §9)."""
    email = f'reception-{uuid.uuid4().hex[:10]}@example.test'
    with database.connection_context():
        User.create(email=email, password_hash=hash_password(PASSWORD), name=name,
                    role='reception')
    return Client(url).login(email, PASSWORD)


def people(url):
    """Everyone a calendar test talks as, logged in at `url`."""
    return {'anon': Client(url),
            'patient': create_user(url, 'patient', name='Pat Owner'),
            'other_patient': create_user(url, 'patient', name='Olga Other'),
            'doctor': create_user(url, 'doctor', name='Dr Ana Ruiz'),
            'other_doctor': create_user(url, 'doctor', name='Dr Ben Stone'),
            'reception': reception(url),
            'admin': create_user(url, 'admin')}


def new_doctor(week=((0, '09:00', '17:00'),), slot_minutes=30, name='Dr Test'):
    """A doctor who never logs in: only booked with."""
    data = {'email': f'doc-{uuid.uuid4().hex[:10]}@example.test', 'password': PASSWORD,
            'name': name, 'specialization': 'General practice'}
    with database.connection_context():
        doctor = accounts.create_doctor(data)
        set_week(doctor.id, week)
        User.update(slot_minutes=slot_minutes).where(User.id == doctor.id).execute()
    return doctor.id


def book(client, doctor_id, date, time, **extra):
    return client.post('/api/appointments', {'doctor_id': doctor_id, 'date': date,
                                             'time': time, **extra})


def booked(client, doctor_id, date, time, **extra):
    resp = book(client, doctor_id, date, time, **extra)
    assert resp.status == 201, resp
    return resp.json


def slot_times(client, doctor_id, first, last=None):
    resp = client.get(f'/api/doctors/{doctor_id}/slots?from={first}&to={last or first}')
    assert resp.status == 200, resp
    return [(s['date'], s['time']) for s in resp.json['items']]


def row(appointment_id):
    with database.connection_context():
        return Appointment.get_by_id(appointment_id)


def moved_emails(appointment_id):
    with database.connection_context():
        return list(OutboxMessage.select()
                    .where(OutboxMessage.dedupe_key.startswith(f'reschedule:{appointment_id}:')))
