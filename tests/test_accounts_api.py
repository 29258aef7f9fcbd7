"""Register, log in, sessions, CSRF and throttling over real HTTP."""
import uuid

from app.db import database
from app.models import Session
from tests.client import Client
from tests.conftest import PASSWORD, unique_email


def register(client, **overrides):
    body = {'email': unique_email('new'), 'password': PASSWORD, 'name': 'Nina Patel', **overrides}
    return client.post('/api/register', body)


def test_patient_registers_and_is_logged_in(anon):
    resp = register(anon, phone='+44 20 7946 0000')
    assert resp.status == 201, resp
    user = resp.json['user']
    assert user['role'] == 'patient' and user['name'] == 'Nina Patel'
    assert 'password' not in resp.text and 'password_hash' not in resp.text
    anon.csrf_token = resp.json['csrf_token']
    me = anon.get('/api/me')
    assert me.status == 200 and me.json['user']['id'] == user['id']


def test_register_refuses_taken_email_and_short_password(anon):
    email = unique_email('dup')
    assert register(anon, email=email).status == 201
    taken = register(Client(anon.base_url), email=email.upper())
    assert taken.status == 409 and 'email' in taken.json['error']
    short = register(Client(anon.base_url), password='short')
    assert short.status == 400 and 'password' in short.json['error']


def test_the_register_form_names_every_wrong_field_at_once(anon):
    resp = anon.post('/api/register', {'email': 'not-an-email', 'password': 'short', 'name': ''})
    # The JSON answer keeps SPEC's shape: the first wrong field's message.
    assert resp.status == 400 and set(resp.json) == {'error'}, resp
    assert resp.json['error'].startswith('email:')

    page = anon.post('/register', data='name=&email=&password=&phone=',
                     headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert page.status == 400
    for field in ('name', 'email', 'password'):
        assert f'id="f-{field}-error"' in page.text, field
    assert 'id="f-phone-error"' not in page.text


def test_login_returns_user_csrf_token_and_a_safe_session_cookie(patient, anon):
    resp = anon.post('/api/login', {'email': patient.user['email'], 'password': PASSWORD})
    assert resp.status == 200
    assert set(resp.json['user']) >= {'id', 'email', 'name', 'role'}
    assert resp.json['csrf_token']
    set_cookie = resp.headers['Set-Cookie']
    assert set_cookie.startswith('clinicdesk_session=')
    assert 'HttpOnly' in set_cookie and 'samesite=lax' in set_cookie.lower()
    assert 'Secure' not in set_cookie  # BASE_URL is http in tests


def test_session_token_is_not_stored_in_clear(patient):
    token = patient.cookie('clinicdesk_session').value
    with database.connection_context():
        assert Session.get_or_none(Session.token_hash == token) is None


def test_wrong_password_is_401_and_repeated_failures_are_throttled(patient, anon):
    email = patient.user['email']
    for _ in range(5):
        resp = anon.post('/api/login', {'email': email, 'password': 'wrong-password'})
        assert resp.status == 401
        assert resp.json['error'] == 'wrong email or password'
    blocked = anon.post('/api/login', {'email': email, 'password': PASSWORD})
    assert blocked.status == 429 and 'too many' in blocked.json['error']


def test_unknown_email_answers_like_a_wrong_password(anon):
    resp = anon.post('/api/login', {'email': f'nobody-{uuid.uuid4().hex}@example.test',
                                    'password': 'whatever-123'})
    assert resp.status == 401 and resp.json['error'] == 'wrong email or password'


def test_logout_ends_the_server_side_session(patient):
    token_cookie = patient.cookie('clinicdesk_session')
    assert patient.post('/api/logout').status == 200
    stale = Client(patient.base_url)
    stale.cookies.set_cookie(token_cookie)
    assert stale.get('/api/me').status == 401


def test_unsafe_request_without_or_with_wrong_csrf_token_is_403(patient):
    missing = patient.put('/api/me/reminders', {'enabled': False}, csrf=False)
    assert missing.status == 403 and 'CSRF' in missing.json['error']
    wrong = patient.put('/api/me/reminders', {'enabled': False}, csrf=False,
                        headers={'X-CSRF-Token': 'not-the-token'})
    assert wrong.status == 403
    assert patient.get('/api/me').json['user']['reminders_enabled'] is True


def test_patient_turns_reminders_off_and_on(patient):
    assert patient.put('/api/me/reminders', {'enabled': False}).json['user']['reminders_enabled'] is False
    assert patient.get('/api/me').json['user']['reminders_enabled'] is False
    assert patient.put('/api/me/reminders', {'enabled': True}).status == 200
    assert patient.put('/api/me/reminders', {'enabled': 'no'}).status == 400


def test_admin_creates_a_doctor_who_can_log_in_and_is_listed(admin, anon):
    email = unique_email('dr')
    resp = admin.post('/api/doctors', {'email': email, 'password': PASSWORD,
                                       'name': 'Dr Ada Okafor', 'specialization': 'Cardiology'})
    assert resp.status == 201, resp
    assert resp.json['id'] and resp.json['specialization'] == 'Cardiology'
    doctor = Client(anon.base_url).login(email, PASSWORD)
    assert doctor.user['role'] == 'doctor'
    listed = doctor.get('/api/doctors?limit=1000').json
    assert {'id': resp.json['id'], 'name': 'Dr Ada Okafor', 'specialization': 'Cardiology'} in listed['items']
    assert listed['limit'] == 1000 and listed['offset'] == 0 and listed['total'] >= 1
