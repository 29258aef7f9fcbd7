"""Login CSRF (SPEC §10): a page on another site cannot log a visitor in
(as the attacker) or register them; the app's own forms and API clients
without a browser Origin still work."""
import uuid
from urllib.parse import urlencode

import pytest

from app.db import database
from app.models import User
from tests.client import Client
from tests.conftest import PASSWORD

EVIL = 'https://evil.example'


def form_post(base_url, path, fields, **headers):
    client = Client(base_url)
    resp = client.post(path, data=urlencode(fields), csrf=False, headers=headers)
    return client, resp


def register_fields():
    return {'name': 'Mallory Victim', 'email': f'csrf-{uuid.uuid4().hex[:8]}@example.test',
            'phone': '', 'password': PASSWORD}


def account_exists(email):
    with database.connection_context():
        return User.by_email(email) is not None


@pytest.mark.parametrize('headers', [
    {'Origin': EVIL},
    {'Origin': 'null'},
    {'Origin': None, 'Referer': EVIL + '/login-trap'},
    {'Origin': None},  # a form with neither header: an old browser, referrer hidden
], ids=['origin', 'null-origin', 'referer', 'neither'])
def test_cross_site_form_posts_to_login_and_register_log_nobody_in(base_url, patient, headers):
    client, resp = form_post(base_url, '/login',
                             {'email': patient.user['email'], 'password': PASSWORD}, **headers)
    assert resp.status == 403 and 'another site' in resp.text
    assert client.cookie('clinicdesk_session') is None

    fields = register_fields()
    client, resp = form_post(base_url, '/register', fields, **headers)
    assert resp.status == 403
    assert client.cookie('clinicdesk_session') is None
    assert not account_exists(fields['email'])


def test_the_apps_own_forms_still_log_in_and_register(base_url, patient):
    client, resp = form_post(base_url, '/login',
                             {'email': patient.user['email'], 'password': PASSWORD},
                             Referer=base_url + '/login')
    assert resp.status == 303 and client.cookie('clinicdesk_session') is not None
    fields = register_fields()
    client, resp = form_post(base_url, '/register', fields, Origin=base_url)
    assert resp.status == 303 and account_exists(fields['email'])


def test_cross_site_json_login_and_register_are_refused(base_url, patient):
    client = Client(base_url)
    resp = client.post('/api/login', {'email': patient.user['email'], 'password': PASSWORD},
                       headers={'Origin': EVIL})
    assert resp.status == 403 and client.cookie('clinicdesk_session') is None
    fields = register_fields()
    assert client.post('/api/register', fields, headers={'Origin': EVIL}).status == 403
    assert not account_exists(fields['email'])


def test_api_clients_without_a_browser_origin_still_log_in_and_register(base_url, patient):
    no_browser = {'Origin': None}
    resp = Client(base_url).post('/api/login', {'email': patient.user['email'],
                                                'password': PASSWORD}, headers=no_browser)
    assert resp.status == 200 and resp.json['csrf_token']
    fields = register_fields()
    assert Client(base_url).post('/api/register', fields, headers=no_browser).status == 201


def test_a_form_encoded_api_login_without_origin_is_refused(base_url, patient):
    resp = Client(base_url).post('/api/login', data=urlencode(
        {'email': patient.user['email'], 'password': PASSWORD}), headers={'Origin': None})
    assert resp.status == 403
