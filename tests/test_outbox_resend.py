"""Mail cut off mid-send (SPEC §11): a consumer killed while the SMTP server
holds a message it has taken leaves that message `uncertain`, counted on the
status page; an admin resends it with one click and it arrives once more
with the same Message-ID. Only uncertain and failed mail can be resent."""
import asyncio
import contextlib
import sqlite3
import threading
import uuid

import pytest

from app import mail, smtp_delivery
from app.factory import create_app
from app.models import AuditEvent, OutboxMessage
from app.queue import configure_queue
from app.services import accounts
from app.settings import load
from tests.client import Client
from tests.conftest import (PASSWORD, ServerThread, SmtpSink, WorkerProcess, base_env,
                            bound_database, smtp_sink, unique_email, wait_until)


class SlowSink(SmtpSink):
    """Takes each message and, while `hold` is set, waits before answering
    its DATA: the moment when a sender cannot know whether it arrived."""

    def __init__(self):
        super().__init__()
        self.hold = threading.Event()
        self.taken = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        self.taken.set()
        while self.hold.is_set():
            await asyncio.sleep(0.05)
        return reply


@contextlib.contextmanager
def clinic_of(env, settings):
    """The test's database and queue bound to the clinic of `env`, and that
    clinic's web app; the session's again afterwards."""
    own = load(env)
    try:
        with bound_database(own.database_url):
            configure_queue(own)
            site = ServerThread(create_app(own)).start()
            try:
                yield own, site.url
            finally:
                site.stop()
    finally:
        configure_queue(settings)


def status_of(db_path, message_id):
    with sqlite3.connect(db_path, timeout=10) as conn:
        return conn.execute('SELECT status FROM outbox_message WHERE id = ?',
                            (message_id,)).fetchone()[0]


def test_a_message_cut_off_by_a_killed_worker_is_uncertain_and_resent_once_with_its_id(
        tmp_path, settings):
    sink = SlowSink()
    sink.hold.set()
    with smtp_sink(sink), clinic_of(base_env(tmp_path / 'cut', sink.port), settings) as (own, url):
        env = base_env(tmp_path / 'cut', sink.port, PORT=own.port)
        admin_email = unique_email('admin')
        accounts.create_or_reset_admin(admin_email, PASSWORD)
        message = mail.queue_message(f'test:{uuid.uuid4().hex}', 'pat@example.test',
                                     'Your visit tomorrow', 'See you at 09:00.')
        db_path = own.data_dir / 'clinic.db'

        first = WorkerProcess(env).start()
        try:
            assert sink.taken.wait(70), first.output()  # housekeeping sent it
            assert status_of(db_path, message.id) == mail.SENDING
        finally:
            first.kill()
        sink.hold.clear()

        second = WorkerProcess(env).start()
        try:
            wait_until(lambda: status_of(db_path, message.id) == 'uncertain', 70,
                       interval=0.2, message='uncertain after the kill')
            admin = Client(url).login(admin_email, PASSWORD)
            status = admin.get('/api/admin/status').json
            assert status['outbox']['uncertain'] == 1
            assert '/admin/outbox?status=uncertain' in admin.get('/admin/status').text
            listed = admin.get('/api/outbox?status=uncertain').json['items']
            assert [(m['id'], m['status']) for m in listed] == [(message.id, 'uncertain')]
            assert f'/admin/outbox/{message.id}/resend' in admin.get(
                '/admin/outbox?status=uncertain').text
            assert len(sink.messages) == 1  # not sent again by itself

            resp = admin.post(f'/api/outbox/{message.id}/resend')
            assert resp.status == 202 and resp.json['status'] == 'pending'
            wait_until(lambda: status_of(db_path, message.id) == 'sent', 30, interval=0.1,
                       message='resent')
        finally:
            second.stop()

        first_copy, second_copy = [m['message'] for m in sink.messages]
        assert first_copy['Message-ID'] == second_copy['Message-ID']
        assert admin.post(f'/api/outbox/{message.id}/resend').status == 409
        assert AuditEvent.get(AuditEvent.action == 'outbox_message.resend').target == \
            f'outbox_message:{message.id}'


@pytest.fixture
def refusing_site(own_db):
    with smtp_sink(SmtpSink()) as sink:
        site = ServerThread(create_app(own_db)).start()
        admin_email, patient_email = unique_email('admin'), unique_email('patient')
        accounts.create_or_reset_admin(admin_email, PASSWORD)
        accounts.register_patient({'email': patient_email, 'password': PASSWORD,
                                   'name': 'Pat'})
        try:
            yield (own_db.with_changes(smtp_host='127.0.0.1', smtp_port=sink.port), sink,
                   Client(site.url).login(admin_email, PASSWORD),
                   Client(site.url).login(patient_email, PASSWORD))
        finally:
            site.stop()


def test_a_failed_message_can_be_resent_and_others_cannot(refusing_site):
    settings, sink, admin, patient = refusing_site
    sink.reject.add('moved@example.test')
    failed = mail.queue_message(f'test:{uuid.uuid4().hex}', 'moved@example.test', 'Hello', 'x')
    pending = mail.queue_message(f'test:{uuid.uuid4().hex}', 'fine@example.test', 'Hello', 'x')
    OutboxMessage.update(status='failed', error='550 gone').where(
        OutboxMessage.id == failed.id).execute()

    path = f'/api/outbox/{failed.id}/resend'
    assert patient.post(path).status == 403
    assert admin.post(path, csrf=False).status == 403
    assert admin.post('/api/outbox/999999/resend').status == 404
    assert admin.post(f'/api/outbox/{pending.id}/resend').status == 409
    assert OutboxMessage.get_by_id(failed.id).status == 'failed'

    sink.reject.clear()
    assert admin.post(path).status == 202
    assert smtp_delivery.deliver_due(settings)['sent'] == 2
    assert OutboxMessage.get_by_id(failed.id).status == 'sent'
    assert admin.post(path).status == 409  # sent: nothing to resend


def test_the_outbox_page_resends_with_a_button(refusing_site):
    _, _, admin, _ = refusing_site
    message = mail.queue_message(f'test:{uuid.uuid4().hex}', 'x@example.test', 'Hello', 'x')
    OutboxMessage.update(status='uncertain', error=mail.IN_DOUBT).where(
        OutboxMessage.id == message.id).execute()
    page = admin.get(f'/admin/outbox/{message.id}')
    assert 'Send again' in page.text and 'resend it from the outbox' in page.text
    form = admin.post(f'/admin/outbox/{message.id}/resend', data=f'csrf_token={admin.csrf_token}',
                      headers={'Content-Type': 'application/x-www-form-urlencoded'}, csrf=False)
    assert form.status in (302, 303)
    assert OutboxMessage.get_by_id(message.id).status == 'pending'
    assert 'Send again' not in admin.get(f'/admin/outbox/{message.id}').text
