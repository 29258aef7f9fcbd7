"""Staff two-factor (SPEC §10): enrol, confirm, log in with a code or a
recovery code, each once; turning it off needs a code; patients cannot enrol;
STAFF_2FA=required. Each test runs its own app on a real Waitress server
whose clock setting the test moves, so TOTP steps are exact."""
import datetime
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from app.clock import UTC
from app.db import database
from app.factory import create_app
from app.models import AuditEvent
from app.services import accounts
from app.settings import ConfigError, load
from tests.client import Client
from tests.conftest import PASSWORD, MovableClock, ServerThread, base_env, create_user

START = datetime.datetime(2032, 6, 1, 9, 0, 10, tzinfo=UTC)


@pytest.fixture
def clock(settings):
    return MovableClock(settings.tz, START)


def start_server(settings, clock, **changes):
    import tasks  # noqa: F401  (the views enqueue these)
    return ServerThread(create_app(settings.with_changes(**changes), clock=clock)).start()


@pytest.fixture
def app_url(settings, clock):
    srv = start_server(settings, clock)
    yield srv.url
    srv.stop()


def code_at(secret, clock, steps=0):
    return pyotp.TOTP(secret).at(clock.now() + datetime.timedelta(seconds=30 * steps))


def enrolled(app_url, clock, role='doctor'):
    """A logged-in staff client with two-factor on: (client, secret, recovery codes)."""
    client = create_user(app_url, role)
    enrol = client.post('/api/me/2fa')
    assert enrol.status == 200, enrol
    secret = enrol.json['secret']
    confirm = client.post('/api/me/2fa/confirm', {'code': code_at(secret, clock)})
    assert confirm.status == 200, confirm
    return client, secret, confirm.json['recovery_codes']


def log_in(app_url, email, otp=None):
    body = {'email': email, 'password': PASSWORD}
    if otp is not None:
        body['otp'] = otp
    return Client(app_url).post('/api/login', body)


def test_staff_enrol_confirm_and_then_need_a_code_to_log_in(app_url, clock):
    client = create_user(app_url, 'admin')
    enrol = client.post('/api/me/2fa')
    assert enrol.status == 200
    secret, uri = enrol.json['secret'], enrol.json['otpauth_uri']
    assert urlsplit(uri).scheme == 'otpauth' and urlsplit(uri).netloc == 'totp'
    assert parse_qs(urlsplit(uri).query) == {'secret': [secret], 'issuer': ['ClinicDesk']}
    # Pending until confirmed: the password alone still logs in.
    assert log_in(app_url, client.user['email']).status == 200

    assert client.post('/api/me/2fa/confirm', {'code': '000000'}).status == 400
    confirm = client.post('/api/me/2fa/confirm', {'code': code_at(secret, clock)})
    assert confirm.status == 200
    codes = confirm.json['recovery_codes']
    assert len(codes) == 10 == len(set(codes))

    without = log_in(app_url, client.user['email'])
    assert without.status == 401 and without.json['two_factor'] is True
    assert without.json['error']
    wrong = log_in(app_url, client.user['email'], '123456')
    assert wrong.status == 401 and wrong.json['two_factor'] is True
    clock.advance(30)
    right = log_in(app_url, client.user['email'], code_at(secret, clock))
    assert right.status == 200 and right.json['user']['role'] == 'admin'
    # A second enrolment is refused while one is on.
    assert client.post('/api/me/2fa').status == 409


def test_a_code_is_accepted_once_and_within_one_step_of_drift(app_url, clock):
    client, secret, _ = enrolled(app_url, clock)
    email = client.user['email']
    confirm_code = code_at(secret, clock)
    assert log_in(app_url, email, confirm_code).status == 401  # spent by the confirmation

    clock.advance(60)  # two steps on: the confirmation's step is out of reach
    assert log_in(app_url, email, code_at(secret, clock, -2)).status == 401
    previous = code_at(secret, clock, -1)
    assert log_in(app_url, email, previous).status == 200
    assert log_in(app_url, email, previous).status == 401  # the same code twice
    assert log_in(app_url, email, code_at(secret, clock, +2)).status == 401
    assert log_in(app_url, email, code_at(secret, clock, +1)).status == 200
    # Older than the newest code used: refused even though in the window.
    assert log_in(app_url, email, code_at(secret, clock)).status == 401


def test_a_recovery_code_logs_in_once(app_url, clock):
    client, _, codes = enrolled(app_url, clock, role='admin')
    email = client.user['email']
    assert log_in(app_url, email, codes[3]).status == 200
    again = log_in(app_url, email, codes[3])
    assert again.status == 401 and again.json['two_factor'] is True
    # Typed without dashes and in capitals, another code still works.
    assert log_in(app_url, email, codes[4].replace('-', '').upper()).status == 200
    with database.connection_context():
        used = (AuditEvent.select()
                .where(AuditEvent.actor == client.user['id'],
                       AuditEvent.action == 'two_factor.recovery_code')
                .count())
        actions = {e.action for e in AuditEvent.select(AuditEvent.action)
                   .where(AuditEvent.actor == client.user['id'])}
    assert used == 2
    assert {'two_factor.enrol', 'two_factor.confirm'} <= actions


def test_turning_two_factor_off_needs_a_code(app_url, clock):
    client, secret, codes = enrolled(app_url, clock)
    email = client.user['email']
    assert client.delete('/api/me/2fa', json_body={}).status == 400
    assert client.delete('/api/me/2fa', json_body={'code': '999999'}).status == 400
    assert log_in(app_url, email).status == 401  # still on
    clock.advance(30)
    off = client.delete('/api/me/2fa', json_body={'code': code_at(secret, clock)})
    assert off.status == 200
    assert log_in(app_url, email).status == 200
    # The old recovery codes went with it.
    assert log_in(app_url, email, codes[0]).status == 200  # otp is ignored: none needed
    assert client.delete('/api/me/2fa', json_body={'code': codes[1]}).status == 409


def test_create_admin_turns_two_factor_off_for_an_admin_who_lost_their_phone(app_url, clock):
    client, _, _ = enrolled(app_url, clock, role='admin')
    assert log_in(app_url, client.user['email']).status == 401
    with database.connection_context():
        accounts.create_or_reset_admin(client.user['email'], PASSWORD)
    assert log_in(app_url, client.user['email']).status == 200


def test_patients_cannot_enrol(app_url):
    patient = create_user(app_url, 'patient')
    assert patient.post('/api/me/2fa').status == 403
    assert patient.post('/api/me/2fa/confirm', {'code': '123456'}).status == 403
    assert patient.delete('/api/me/2fa', json_body={'code': '123456'}).status == 403
    assert patient.get('/account/2fa').status == 403


def test_wrong_codes_count_as_failed_logins(app_url, clock):
    client, secret, _ = enrolled(app_url, clock)
    email = client.user['email']
    for _ in range(5):
        assert log_in(app_url, email, '000001').status == 401
    throttled = log_in(app_url, email, code_at(secret, clock))
    assert throttled.status == 429
    # A growing delay, not a lock: the right code works once it has passed.
    clock.advance(int(throttled.headers['Retry-After']))
    assert log_in(app_url, email, code_at(secret, clock)).status == 200


def test_the_login_form_asks_for_the_code_without_the_password_again(app_url, clock):
    client, secret, _ = enrolled(app_url, clock)
    browser = Client(app_url)
    first = browser.post('/login', data=f'email={client.user["email"]}&password={PASSWORD}'
                         '&next=%2Fdoctor%2Fvisits',
                         headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert first.status == 200 and 'Enter your code' in first.text
    assert 'name="password"' not in first.text and PASSWORD not in first.text
    assert browser.cookie('clinicdesk_session') is None
    assert browser.cookie('clinicdesk_2fa') is not None

    form = {'Content-Type': 'application/x-www-form-urlencoded'}
    wrong = browser.post('/login/code', data='otp=000002&next=%2Fdoctor', headers=form)
    assert wrong.status == 401 and 'not right' in wrong.text
    clock.advance(30)
    right = browser.post('/login/code', data=f'otp={code_at(secret, clock)}&next=%2Fdoctor',
                         headers=form)
    assert right.status == 303 and right.headers['Location'].endswith('/doctor')
    assert browser.cookie('clinicdesk_session') is not None
    assert browser.get('/api/me').json['user']['id'] == client.user['id']
    # The pending login is gone: its cookie logs in nobody a second time.
    assert Client(app_url).post('/login/code', data='otp=1', headers=form).status == 303


def test_staff_2fa_required_holds_staff_at_enrolment_and_leaves_patients_alone(settings, clock):
    srv = start_server(settings, clock, staff_2fa='required')
    try:
        doctor = create_user(srv.url, 'doctor')
        blocked = doctor.get('/api/doctors')
        assert blocked.status == 403 and blocked.json['enrol_2fa'] is True
        page = doctor.get('/doctor')
        assert page.status in (302, 303) and page.headers['Location'].endswith('/account/2fa')
        assert doctor.get('/account/2fa').status == 200
        assert doctor.get('/api/me').status == 200

        secret = doctor.post('/api/me/2fa').json['secret']
        assert doctor.post('/api/me/2fa/confirm', {'code': code_at(secret, clock)}).status == 200
        assert doctor.get('/api/doctors').status == 200
        assert doctor.get('/doctor').status == 200

        patient = create_user(srv.url, 'patient')
        assert patient.get('/api/doctors').status == 200
        assert patient.get('/patient').status == 200
    finally:
        srv.stop()


def test_staff_2fa_setting_is_checked_at_start(tmp_path):
    assert load(base_env(tmp_path / 'a')).staff_2fa == 'optional'
    assert load(base_env(tmp_path / 'b', STAFF_2FA='required')).staff_2fa == 'required'
    with pytest.raises(ConfigError, match='STAFF_2FA'):
        load(base_env(tmp_path / 'c', STAFF_2FA='sometimes'))


def test_a_password_change_ends_a_login_still_waiting_for_its_code(app_url, clock):
    # Someone with the old password got as far as the code; the owner
    # changes the password: a code must not open a session for them now.
    client, secret, _ = enrolled(app_url, clock)
    form = {'Content-Type': 'application/x-www-form-urlencoded'}
    intruder = Client(app_url)
    first = intruder.post('/login', data=f'email={client.user["email"]}&password={PASSWORD}',
                          headers=form)
    assert first.status == 200 and intruder.cookie('clinicdesk_2fa') is not None
    changed = client.put('/api/me/password', {'current_password': PASSWORD,
                                              'new_password': 'a-new-password-7'})
    assert changed.status == 200, changed
    clock.advance(30)
    late = intruder.post('/login/code', data=f'otp={code_at(secret, clock)}', headers=form)
    assert late.status == 303 and urlsplit(late.headers['Location']).path == '/login'
    assert intruder.cookie('clinicdesk_session') is None
    assert intruder.get('/api/me').status == 401
