"""Sessions that end (SPEC §10): after SESSION_IDLE_MINUTES without a
request and SESSION_MAX_HOURS after login, with the page sending the user
to log in and back; the user's list of sessions, signing out everywhere
else, changing the password, and create-admin ending an admin's sessions.
Time moves through the app's clock setting."""
import datetime
import os
import subprocess
import sys

import pytest

from app import auth
from app.db import database
from app.models import AuditEvent, User
from app.settings import ConfigError, load
from tests.client import Client
from tests.clocked_site import ClockedSite
from tests.conftest import PASSWORD, ROOT, base_env, wait_until
from tests.test_pages import location, submit

ENDED = 'your session has ended; log in again'


@pytest.fixture
def site(own_db):
    site = ClockedSite(own_db)
    yield site
    site.stop()


def test_a_session_ends_after_the_idle_minutes_but_activity_keeps_it(site):
    client = site.login(site.user())
    for minutes in (29, 58, 87):  # each request within 30 minutes of the last
        site.set_time(minutes=minutes)
        assert client.get('/api/me').status == 200, minutes
    site.set_time(minutes=87 + 31)
    resp = client.get('/api/me')
    assert resp.status == 401 and resp.json == {'error': ENDED}


def test_a_session_ends_after_the_maximum_hours_even_when_in_use(site):
    client = site.login(site.user())
    for minutes in range(20, 12 * 60, 20):
        site.set_time(minutes=minutes)
        assert client.get('/api/me').status == 200, minutes
    site.set_time(hours=12, minutes=1)
    assert client.get('/api/me').status == 401
    assert client.put('/api/me/reminders', {'enabled': False}).status == 401


def test_the_timeouts_come_from_the_settings(own_db):
    site = ClockedSite(own_db.with_changes(session_idle_minutes=5, session_max_hours=1))
    try:
        client = site.login(site.user())
        site.set_time(minutes=4)
        assert client.get('/api/me').status == 200
        site.set_time(minutes=10)
        assert client.get('/api/me').status == 401
        client = site.login(site.user())  # at minute 10
        for minutes in (14, 18, 22, 26, 30, 34, 38, 42, 46, 50, 54, 58, 62, 66, 69):
            site.set_time(minutes=minutes)
            assert client.get('/api/me').status == 200, minutes
        site.set_time(minutes=71)
        assert client.get('/api/me').status == 401
    finally:
        site.stop()


@pytest.mark.parametrize('name,value', [('SESSION_IDLE_MINUTES', '0'),
                                        ('SESSION_IDLE_MINUTES', 'half an hour'),
                                        ('SESSION_MAX_HOURS', '-1'),
                                        ('SESSION_MAX_HOURS', '100000')])
def test_a_bad_timeout_setting_stops_start_up_naming_it(tmp_path, name, value):
    with pytest.raises(ConfigError) as caught:
        load(base_env(tmp_path, **{name: value}))
    assert str(caught.value).startswith(name + ':')


def test_defaults_are_thirty_minutes_idle_and_twelve_hours(tmp_path):
    settings = load(base_env(tmp_path))
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 12)


def test_an_ended_session_sends_the_page_to_log_in_and_back(site):
    email = site.user()
    client = site.login(email)
    assert client.get('/account').status == 200
    site.set_time(minutes=45)
    resp = client.get('/account')
    assert resp.status in (302, 303) and location(resp) == '/login?next=%2Faccount'
    login_page = client.get('/login?next=%2Faccount')
    assert login_page.status == 200 and 'Your session ended' in login_page.text
    assert 'name="next" value="/account"' in login_page.text
    resp = submit(client, '/login', {'email': email, 'password': PASSWORD,
                                     'next': '/account'})
    assert resp.status == 303 and location(resp) == '/account'
    assert client.get('/account').status == 200


def test_a_visitor_never_logged_in_sees_no_session_ended_message(site):
    anon = Client(site.url)
    resp = anon.get('/patient')
    assert location(resp) == '/login?next=%2Fpatient'
    assert 'Your session ended' not in anon.get('/login?next=%2Fpatient').text
    assert anon.get('/api/me').json == {'error': 'not logged in'}


@pytest.mark.parametrize('target', ['//evil.example/x', 'http://evil.example/',
                                    'https://evil.example', '/\\evil.example',
                                    '\\\\evil.example', 'javascript:alert(1)',
                                    '/%0d%0aSet-Cookie:x=1'.replace('%0d%0a', '\r\n')])
def test_login_never_sends_the_user_off_site(site, target):
    email = site.user()
    resp = submit(Client(site.url), '/login', {'email': email, 'password': PASSWORD,
                                               'next': target})
    assert resp.status == 303 and location(resp) == '/patient', target
    page = Client(site.url).get('/login?next=' + target.replace('\\', '%5C').replace(
        '\r\n', '%0D%0A'))
    assert 'evil' not in page.text and 'Set-Cookie' not in page.text


def sessions_of(client):
    resp = client.get('/api/me/sessions')
    assert resp.status == 200, resp
    return resp.json


def test_the_user_sees_their_sessions_without_any_token(site):
    email = site.user()
    phone = site.login(email, user_agent='Phone/2.0 (small screen)')
    laptop = site.login(email, user_agent='Laptop/1.0')
    body = sessions_of(laptop)
    assert body['total'] == 2 and len(body['items']) == 2
    for item in body['items']:
        assert set(item) == {'id', 'created_at', 'last_seen_at', 'client_address',
                             'user_agent', 'current'}
        assert item['client_address'] == '127.0.0.1'
        assert item['created_at'].startswith(site.start.date().isoformat())
    assert {(i['user_agent'], i['current']) for i in body['items']} == {
        ('Laptop/1.0', True), ('Phone/2.0 (small screen)', False)}
    text = laptop.get('/api/me/sessions').text
    for client in (phone, laptop):
        token = client.cookie(auth.SESSION_COOKIE).value
        assert token not in text and auth._token_hash(token) not in text
        assert client.csrf_token not in text
    # Another user's list holds only their own.
    assert sessions_of(site.login(site.user()))['total'] == 1


def test_last_seen_moves_at_most_once_a_minute(site):
    client = site.login(site.user())
    first = sessions_of(client)['items'][0]
    assert first['last_seen_at'] == first['created_at']
    site.set_time(seconds=40)
    assert sessions_of(client)['items'][0]['last_seen_at'] == first['created_at']
    site.set_time(minutes=3)
    seen = sessions_of(client)['items'][0]['last_seen_at']
    assert seen == (site.start + datetime.timedelta(minutes=3)).isoformat()


def test_sign_out_everywhere_else_keeps_only_this_session(site):
    email = site.user()
    others = [site.login(email) for _ in range(2)]
    me = site.login(email)
    resp = me.delete('/api/me/sessions')
    assert resp.status == 200 and resp.json == {'ended': 2}
    for other in others:
        assert other.get('/api/me').status == 401
    assert me.get('/api/me').status == 200
    assert [i['current'] for i in sessions_of(me)['items']] == [True]
    assert me.delete('/api/me/sessions', csrf=False).status == 403


def test_the_account_page_signs_out_everywhere_else(site):
    email = site.user()
    other = site.login(email)
    phone = ('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) '
             'Chrome/126.0.0.0 Mobile Safari/537.36')
    me = site.login(email, user_agent=phone)
    page = me.get('/account')
    assert page.status == 200
    # The device in words, the whole header on hover.
    assert '>Chrome on Android</span> <strong>(this device)</strong>' in page.text
    assert f'title="{phone}"' in page.text
    assert 'Sign out everywhere else' in page.text and 'Change password' in page.text
    resp = submit(me, '/account/sessions/end-others', {'csrf_token': me.csrf_token})
    assert resp.status == 303 and resp.headers['Location'].endswith('/account#sessions')
    assert other.get('/api/me').status == 401
    page = me.get('/account')
    assert 'Signed out everywhere else (1 other session ended)' in page.text
    assert 'You are logged in only here' in page.text


@pytest.mark.parametrize('role', ['patient', 'doctor', 'admin'])
def test_every_role_finds_the_account_page_in_the_menu(site, role):
    client = site.login(site.user(role))
    home = client.get({'patient': '/patient', 'doctor': '/doctor', 'admin': '/admin'}[role])
    assert home.status == 200 and '<a href="/account"' in home.text


def test_changing_the_password_ends_the_other_sessions_but_not_this_one(site):
    email = site.user()
    other = site.login(email)
    me = site.login(email)
    resp = me.put('/api/me/password', {'current_password': PASSWORD,
                                       'new_password': 'a-brand-new-secret'})
    assert resp.status == 200, resp
    assert me.get('/api/me').status == 200
    assert other.get('/api/me').status == 401
    assert Client(site.url).post('/api/login', {'email': email,
                                                'password': PASSWORD}).status == 401
    site.login(email, 'a-brand-new-secret')


def test_a_wrong_current_password_is_a_400_and_a_failed_login(site):
    email = site.user()
    me = site.login(email)
    resp = me.put('/api/me/password', {'current_password': 'not-my-password',
                                       'new_password': 'a-brand-new-secret'})
    assert resp.status == 400
    assert resp.json['error'] == 'current_password: is not your current password'
    with database.connection_context():
        user = User.by_email(email)
        failed = AuditEvent.select().where(AuditEvent.action == 'login.failed',
                                           AuditEvent.target == f'user:{user.id}').count()
    assert failed == 1
    site.login(email)  # the password did not change
    assert me.put('/api/me/password', {'current_password': PASSWORD,
                                       'new_password': 'short'}).status == 400


def test_the_account_form_changes_the_password_or_shows_the_error(site):
    email = site.user()
    me = site.login(email)
    resp = submit(me, '/account/password', {'csrf_token': me.csrf_token,
                                            'current_password': 'wrong-one-123',
                                            'new_password': 'a-brand-new-secret'})
    assert resp.status == 400 and 'not your current password' in resp.text
    resp = submit(me, '/account/password', {'csrf_token': me.csrf_token,
                                            'current_password': PASSWORD,
                                            'new_password': 'a-brand-new-secret'})
    assert resp.status == 303 and location(resp) == '/account'
    assert 'Your password is changed' in me.get('/account').text


def test_create_admin_resetting_a_password_ends_that_admins_sessions(site):
    email = site.user('admin')
    admin = site.login(email)
    bystander = site.login(site.user('admin'))
    env = {**os.environ, **base_env(site.settings.data_dir, ADMIN_PASSWORD='another-long-one',
                                    DATABASE_URL=site.settings.database_url)}
    result = subprocess.run([sys.executable, str(ROOT / 'run.py'), 'create-admin', email],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and 'reset admin' in result.stdout, result.stderr
    wait_until(lambda: admin.get('/api/me').status == 401, 5, message='session to end')
    assert bystander.get('/api/me').status == 200
    site.login(email, 'another-long-one')
