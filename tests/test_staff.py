"""Staff accounts (SPEC §9): the admin invites reception and admin accounts
by email, renames and deactivates them; a deactivated account cannot log in
and its sessions end at once."""
import re
from urllib.parse import urlencode

import pytest

from app.db import database
from app.models import AuditEvent, OutboxMessage, PasswordLink, Session, User
from tests.calendar_site import reception
from tests.client import Client
from tests.conftest import PASSWORD, create_user, unique_email

NEW_PASSWORD = 'front-desk-password'


def invitation_token(email):
    """The set-password token of the newest invitation sent to `email`."""
    with database.connection_context():
        message = (OutboxMessage.select()
                   .where(OutboxMessage.to == email)
                   .order_by(OutboxMessage.id.desc())
                   .first())
    assert message is not None, f'no email to {email}'
    return re.search(r'/reset\?token=([\w-]+)', message.text_body).group(1)


def set_password(base_url, token, password=NEW_PASSWORD):
    return Client(base_url).post('/reset', data=urlencode({'token': token, 'password': password}),
                                 csrf=False)


def invite(admin, role='reception', name='Rita Desk'):
    email = unique_email(role)
    resp = admin.post('/api/staff', {'email': email, 'name': name, 'role': role})
    assert resp.status == 201, resp
    return resp.json


def form_post(client, path, **fields):
    return client.post(path, data=urlencode({**fields, 'csrf_token': client.csrf_token}))


def test_an_invited_receptionist_sets_a_password_once_then_logs_in_to_their_home(admin, anon):
    account = invite(admin)
    assert account['role'] == 'reception' and account['active'] is True
    assert anon.post('/api/login', {'email': account['email'],
                                    'password': PASSWORD}).status == 401
    token = invitation_token(account['email'])
    page = anon.get(f'/reset?token={token}')
    assert page.status == 200 and account['email'] in page.text
    assert set_password(anon.base_url, token).status == 303
    assert set_password(anon.base_url, token, 'another-password').status == 400

    desk = Client(anon.base_url)
    landed = desk.post('/login', data=urlencode({'email': account['email'],
                                                 'password': NEW_PASSWORD}), csrf=False)
    assert landed.status in (302, 303)
    home = landed.headers['Location'].replace(anon.base_url, '')
    assert home == '/reception'
    assert desk.get(home).status == 200
    assert Client(anon.base_url).login(account['email'], NEW_PASSWORD).user['role'] == 'reception'


def test_a_deactivated_receptionist_cannot_log_in_and_their_session_ends_at_once(admin, anon):
    desk = reception(anon.base_url)
    assert desk.get('/api/me').status == 200
    assert desk.get('/api/me').status == 200  # a GET may now answer from the session cache
    resp = admin.put(f'/api/staff/{desk.user["id"]}', {'active': False})
    assert resp.status == 200 and resp.json['active'] is False
    assert desk.get('/api/me').status == 401
    with database.connection_context():
        assert not Session.select().where(Session.user == desk.user['id']).exists()
    refused = anon.post('/api/login', {'email': desk.user['email'], 'password': PASSWORD})
    stranger = anon.post('/api/login', {'email': unique_email('nobody'), 'password': PASSWORD})
    assert refused.status == stranger.status == 401
    assert refused.json == stranger.json

    assert admin.put(f'/api/staff/{desk.user["id"]}', {'active': True}).status == 200
    assert Client(anon.base_url).login(desk.user['email'], PASSWORD).user


def test_an_admin_cannot_deactivate_themself(admin):
    me = admin.user['id']
    resp = admin.put(f'/api/staff/{me}', {'active': False})
    assert resp.status == 409 and 'own account' in resp.json['error']
    page = form_post(admin, f'/admin/staff/{me}', name='Administrator')
    assert page.status == 409 and 'own account' in page.text
    assert admin.get('/api/me').status == 200


def test_another_admin_can_be_deactivated_and_renamed(admin):
    other = create_user(admin.base_url, 'admin')
    resp = admin.put(f'/api/staff/{other.user["id"]}', {'name': 'Ada Former', 'active': False})
    assert resp.status == 200 and resp.json['name'] == 'Ada Former'
    assert other.get('/api/me').status == 401
    with database.connection_context():
        assert (AuditEvent.select()
                .where(AuditEvent.action == 'staff.update',
                       AuditEvent.target == f'user:{other.user["id"]}')
                .exists())


def test_a_taken_email_is_409_and_a_bad_role_names_the_field(admin, patient):
    taken = admin.post('/api/staff', {'email': patient.user['email'], 'name': 'X',
                                      'role': 'reception'})
    assert taken.status == 409 and 'email' in taken.json['error']
    bad = admin.post('/api/staff', {'email': unique_email('x'), 'name': 'X', 'role': 'doctor'})
    assert bad.status == 400 and bad.json['error'].startswith('role:')


def test_staff_are_listed_paged_with_their_active_flag(admin):
    account = invite(admin, 'admin', name='Zed Listed')
    admin.put(f'/api/staff/{account["id"]}', {'active': False})
    first = admin.get('/api/staff?limit=1')
    assert first.status == 200 and len(first.json['items']) == 1
    assert first.json['limit'] == 1 and first.json['total'] >= 2
    every = admin.get('/api/staff?limit=1000').json['items']
    listed = {item['id']: item for item in every}
    assert listed[account['id']]['active'] is False
    assert {item['role'] for item in every} <= {'reception', 'admin'}


@pytest.fixture(scope='module')
def people(base_url):
    return {'anon': Client(base_url), 'patient': create_user(base_url, 'patient'),
            'doctor': create_user(base_url, 'doctor'), 'reception': reception(base_url),
            'admin': create_user(base_url, 'admin')}


def staff_matrix():
    body = {'email': 'matrix@example.test', 'name': 'Matrix', 'role': 'reception'}
    refused = dict(anon=401, patient=403, doctor=403, reception=403)
    return [
        ('POST', '/api/staff', body, {**refused, 'admin': 201}),
        ('GET', '/api/staff', None, {**refused, 'admin': 200}),
        ('PUT', '/api/staff/{reception}', {'name': 'Front Desk'}, {**refused, 'admin': 200}),
        ('PUT', '/api/staff/{patient}', {'name': 'Not Staff'}, {'admin': 404}),
        ('PUT', '/api/staff/{doctor}', {'active': False}, {'admin': 404}),
        ('PUT', '/api/staff/2147483000', {'name': 'Nobody'}, {'admin': 404}),
        ('GET', '/admin/staff', None, dict(patient=403, doctor=403, reception=403, admin=200)),
        ('POST', '/admin/staff/{reception}/invitation', None,
         dict(anon=401, patient=403, doctor=403, reception=403)),
    ]


@pytest.mark.parametrize('method,path,body,expected', staff_matrix(),
                         ids=[f'{m} {p}' for m, p, _, _ in staff_matrix()])
def test_staff_endpoints_answer_each_role_as_specified(people, method, path, body, expected):
    ids = {name: client.user['id'] for name, client in people.items() if client.user}
    path = path.format(**ids)
    for caller, status in expected.items():
        resp = people[caller].request(method, path, json_body=body)
        assert resp.status == status, (caller, resp)
    with database.connection_context():
        assert User.get_by_id(ids['reception']).active


def test_the_admin_invites_from_the_page_and_sends_the_invitation_again(admin):
    assert '/admin/staff' in admin.get('/admin').text
    page = admin.get('/admin/staff')
    for label in ('<label for="f-name">Name', '<label for="f-email">Email',
                  '<label for="f-role">Role'):
        assert label in page.text
    bad = form_post(admin, '/admin/staff', name='Nora', email='not-an-email', role='reception')
    assert bad.status == 400 and 'id="f-email-error"' in bad.text and 'value="Nora"' in bad.text

    email = unique_email('reception')
    sent = form_post(admin, '/admin/staff', name='Nora New', email=email, role='reception')
    assert sent.status == 303
    first = invitation_token(email)
    with database.connection_context():
        account = User.by_email(email)
    assert account.role == 'reception' and 'Nora New' in admin.get('/admin/staff').text
    again = form_post(admin, f'/admin/staff/{account.id}/invitation')
    assert again.status == 303
    second = invitation_token(email)
    assert second != first
    assert set_password(admin.base_url, first).status == 400
    assert set_password(admin.base_url, second).status == 303
    with database.connection_context():
        assert PasswordLink.select().where(PasswordLink.user == account.id).count() == 1


def test_deactivating_from_the_page_ends_the_session(admin):
    desk = reception(admin.base_url, name='Paula Page')
    page = admin.get(f'/admin/staff/{desk.user["id"]}')
    assert page.status == 200 and '<label for="f-active">' in page.text
    saved = form_post(admin, f'/admin/staff/{desk.user["id"]}', name='Paula Page')
    assert saved.status == 303
    assert desk.get('/api/me').status == 401
    resend = form_post(admin, f'/admin/staff/{desk.user["id"]}/invitation')
    assert resend.status == 409 and 'inactive' in resend.text
