"""Single-use set-password links (SPEC §9 invitations, §10 resets): the
link works once, until it expires, only while the account keeps the
password it had, and using it ends every session of the account."""
import datetime
import re
from urllib.parse import urlencode

import pytest

from app.db import database
from app.errors import ApiError
from app.models import PasswordLink, Session, User, utcnow
from app.services import password_links
from tests.client import Client
from tests.conftest import create_user

NEW_PASSWORD = 'a-new-long-password'


def invite(settings, email):
    with database.connection_context():
        user = User.by_email(email)
        message = password_links.queue_invitation(settings, user)
    return re.search(r'/reset\?token=([\w-]+)', message.text_body).group(1), message


def reset_form(client, token, password=NEW_PASSWORD):
    return client.post('/reset', data=urlencode({'token': token, 'password': password}),
                       csrf=False)


def test_an_invitation_email_carries_a_link_that_sets_the_password_once(base_url, settings):
    patient = create_user(base_url, 'patient', name='Ina Vite')
    token, message = invite(settings, patient.user['email'])
    assert message.to == patient.user['email']
    assert f'{settings.base_url}/reset?token={token}' in message.text_body
    assert '72 hours' in message.text_body
    anon = Client(base_url)
    page = anon.get(f'/reset?token={token}')
    assert page.status == 200 and patient.user['email'] in page.text
    assert reset_form(anon, token).status == 303
    assert Client(base_url).login(patient.user['email'], NEW_PASSWORD).user
    again = reset_form(Client(base_url), token, 'yet-another-password')
    assert again.status == 400 and 'not valid any more' in again.text
    with pytest.raises(AssertionError):
        Client(base_url).login(patient.user['email'], 'yet-another-password')


def test_setting_a_password_ends_every_session_of_the_account(base_url, settings):
    patient = create_user(base_url, 'patient')
    token, _ = invite(settings, patient.user['email'])
    assert patient.get('/api/me').status == 200
    assert reset_form(Client(base_url), token).status == 303
    with database.connection_context():
        assert not Session.select().where(Session.user == patient.user['id']).exists()
    # At once, not after the session cache's recheck window.
    assert patient.get('/api/me').status == 401


def test_a_newer_password_voids_an_older_link(base_url, settings):
    patient = create_user(base_url, 'patient')
    first, _ = invite(settings, patient.user['email'])
    second, _ = invite(settings, patient.user['email'])
    assert reset_form(Client(base_url), second).status == 303
    assert reset_form(Client(base_url), first).status == 400


def test_an_expired_forged_or_deactivated_link_is_refused(base_url, settings):
    patient = create_user(base_url, 'patient')
    token, _ = invite(settings, patient.user['email'])
    with database.connection_context():
        later = utcnow() + datetime.timedelta(hours=73)
        with pytest.raises(ApiError):
            password_links.redeem(token, {'password': NEW_PASSWORD}, now=later)
        with pytest.raises(ApiError):
            password_links.check('x' * 43)
        assert not PasswordLink.select().where(PasswordLink.token_hash == token).exists()
        User.update(active=False).where(User.id == patient.user['id']).execute()
    assert reset_form(Client(base_url), token).status == 400
    assert Client(base_url).get('/reset?token=' + 'y' * 43).status == 400


def test_a_short_password_is_refused_next_to_the_field_and_the_link_stays_good(
        base_url, settings):
    patient = create_user(base_url, 'patient')
    token, _ = invite(settings, patient.user['email'])
    short = reset_form(Client(base_url), token, 'short')
    assert short.status == 400 and 'at least 8 characters' in short.text
    assert reset_form(Client(base_url), token).status == 303
