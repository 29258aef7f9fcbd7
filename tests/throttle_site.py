"""An app of its own for the throttling and trusted-proxy tests: its own
database (so the address counts of the session's tests stay apart), a clock
the test moves forward, and Waitress built as `run.py web` builds it."""
import datetime
import types

import pytest

from app.clock import UTC
from app.db import database
from app.factory import create_app
from app.models import AuditEvent, LoginThrottle, User
from app.services import accounts
from tests.client import Client
from tests.conftest import PASSWORD, MovableClock, ServerThread, unique_email

START = datetime.datetime(2032, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_site(own_db):
    servers = []

    def start(trusted_proxy='127.0.0.1'):
        settings = own_db.with_changes(trusted_proxy=trusted_proxy)
        clock = MovableClock(settings.tz, START)
        srv = ServerThread(create_app(settings, clock), settings).start()
        servers.append(srv)
        return types.SimpleNamespace(url=srv.url, clock=clock, settings=settings)
    yield start
    for srv in servers:
        srv.stop()


@pytest.fixture
def site(make_site):
    return make_site()


def new_account(role='patient'):
    email = unique_email(role)
    with database.connection_context():
        if role == 'patient':
            user = accounts.register_patient({'email': email, 'password': PASSWORD,
                                              'name': 'Pat Tient'})
        else:
            user, _ = accounts.create_or_reset_admin(email, PASSWORD)
            User.update(role=role).where(User.id == user.id).execute()
            user.role = role
    return user


def try_login(url, email, password, address=None, client=None):
    headers = {'X-Forwarded-For': address} if address else {}
    return (client or Client(url)).post('/api/login', {'email': email, 'password': password},
                                        headers=headers)


def checked_wrong_passwords(user):
    """How many wrong passwords for `user` the server actually checked."""
    with database.connection_context():
        return (AuditEvent.select()
                .where(AuditEvent.action == 'login.failed',
                       AuditEvent.target == f'user:{user.id}')
                .count())


def throttle_addresses():
    with database.connection_context():
        return {row.address for row in LoginThrottle.select()}
