"""Addresses (issue 16): one plain addr-spec wherever an address enters, and
international addresses sent with SMTPUTF8 when the server offers it, failed
alone with a clear reason when it does not."""
import uuid

import pytest

from app import mail, smtp_delivery
from app.models import OutboxMessage
from app.settings import ConfigError, load
from tests.client import Client
from tests.conftest import base_env, smtp_sink
from tests.test_reports import report_body

REFUSED = ('Bcc:evil@x.io', 'Clinic <a@b.io>', 'a@b.io, c@d.io', 'a@b.io;c@d.io', 'a@@b.io',
           'a@b', 'a b@c.io', '"a"@b.io', 'a@b.io\r\nBcc: e@x.io', 'a..b@c.io', '@b.io',
           'a@-b.io', 'a\u200b@b.io', 'x' * 65 + '@b.io', 'a@' + 'b' * 250 + '.io')


@pytest.mark.parametrize('address', REFUSED)
def test_registering_with_anything_but_one_plain_address_is_refused(base_url, address):
    resp = Client(base_url).post('/api/register', {'email': address, 'password': 'long enough 1',
                                                   'name': 'Mallory'})
    assert resp.status == 400, resp
    assert resp.json['error'].startswith('email:')


def test_a_patient_named_jose_registers_with_his_own_address(base_url):
    address = f'josé.{uuid.uuid4().hex[:6]}@clínica.example'
    resp = Client(base_url).post('/api/register', {'email': address, 'password': 'long enough 1',
                                                   'name': 'José'})
    assert resp.status == 201, resp
    assert resp.json['user']['email'] == address


def test_report_recipients_refuse_a_bcc_prefix(base_url, admin):
    resp = admin.post('/api/reports', report_body(recipients=['Bcc:evil@x.io']))
    assert resp.status == 400
    assert resp.json['error'].startswith('recipients:')


@pytest.mark.parametrize('name, value', [
    ('ADMIN_EMAIL', 'Bcc:evil@x.io'), ('ADMIN_EMAIL', 'a@b.io, c@d.io'),
    ('MAIL_FROM', 'Clinic <Bcc:evil@x.io>'), ('MAIL_FROM', 'no-reply@x.io\r\nBcc: e@x.io'),
    ('MAIL_FROM', 'Clinic <josé@clínica.example>')])
def test_settings_refuse_an_address_that_is_not_plain(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load(base_env(tmp_path, **{name: value}))


def test_settings_take_a_display_name_in_mail_from(tmp_path):
    assert load(base_env(tmp_path, MAIL_FROM='Clínica Sol <no-reply@sol.example>')).mail_from


def queue(to):
    assert mail.queue_message(f'test:{uuid.uuid4().hex}', to, 'Your visit', 'Hello.') is not None
    return to


def row(to):
    return OutboxMessage.get(OutboxMessage.to == to)


def deliver(settings, port):
    return smtp_delivery.deliver_due(settings.with_changes(smtp_host='127.0.0.1', smtp_port=port))


def test_an_international_address_is_sent_with_smtputf8_when_the_server_offers_it(own_db):
    josé, plain = queue('josé@clínica.example'), queue('ana@example.test')
    with smtp_sink(enable_SMTPUTF8=True) as sink:
        report = deliver(own_db, sink.port)
    assert (report['sent'], report['failed']) == (2, 0)
    assert row(josé).status == 'sent'
    [message] = sink.to(josé)
    assert message['To'] == josé


def test_an_international_address_fails_alone_with_a_clear_reason_without_smtputf8(own_db):
    before = queue('ana@example.test')
    josé = queue('josé@clínica.example')
    after = queue('ben@example.test')
    with smtp_sink(enable_SMTPUTF8=False) as sink:
        report = deliver(own_db, sink.port)
    assert (report['sent'], report['failed'], report['deferred']) == (2, 1, 0)
    assert row(josé).status == 'failed'
    assert 'does not accept international addresses' in row(josé).error
    assert 'may have been delivered' not in row(josé).error
    assert row(before).status == row(after).status == 'sent'
    assert sorted(m['to'][0] for m in sink.messages) == ['ana@example.test', 'ben@example.test']


def test_a_stored_address_that_is_not_plain_fails_alone_and_is_not_sent(own_db):
    # Stored before addresses were checked as a plain addr-spec.
    evil = queue('Bcc:evil@x.io')
    fine = queue('cy@example.test')
    with smtp_sink() as sink:
        report = deliver(own_db, sink.port)
    assert (report['sent'], report['failed']) == (1, 1)
    assert row(evil).status == 'failed' and 'not a plain email address' in row(evil).error
    assert row(fine).status == 'sent'
    assert all(m['to'] == ['cy@example.test'] for m in sink.messages)
