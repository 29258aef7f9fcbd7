"""The outbox (SPEC §3 mail, R3): dedupe keys, enqueue after commit, one SMTP
connection per batch, retries with backoff while SMTP is down and exactly one
delivery when it is back, 5xx → failed with the reply, no double sending by
two runs or after a crash, and the admin's outbox without any SMTP server."""
import datetime
import re
import socket
import sqlite3
import threading
import uuid

import pytest
from aiosmtpd.controller import Controller
from huey.storage import MemoryStorage

from app import mail, smtp_delivery, workers
from app.db import database, init_database
from app.factory import create_app
from app.migrations import apply_migrations
from app.models import OutboxAttachment, OutboxMessage, utcnow
from app.queue import huey
from app.services import accounts
from app.settings import load
from tests.client import Client
from tests.conftest import (PASSWORD, ServerThread, SmtpSink, WorkerProcess, base_env, free_port,
                            smtp_sink, wait_until)

import tasks


class CountingSink(SmtpSink):
    """The conftest sink, also counting connections and answering 451 for
    addresses in `busy`."""

    def __init__(self):
        super().__init__()
        self.connections = 0
        self.busy = set()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname  # what aiosmtpd does when there is no hook
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.busy:
            return '451 4.3.0 mailbox busy, try again later'
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture
def sink():
    with smtp_sink(CountingSink()) as handler:
        yield handler


def with_smtp(settings, port):
    return settings.with_changes(smtp_host='127.0.0.1', smtp_port=port)


def address(tag='to'):
    return f'{tag}-{uuid.uuid4().hex[:10]}@example.test'


def queue(count=1, **extra):
    sent_to = []
    for n in range(count):
        to = address()
        assert mail.queue_message(f'test:{uuid.uuid4().hex}', to, f'Message {n}', 'Hello.',
                                  **extra) is not None
        sent_to.append(to)
    return sent_to


def row(to):
    return OutboxMessage.get(OutboxMessage.to == to)


def test_a_dedupe_key_queues_a_message_once_with_its_attachments(own_db):
    key, to = f'export:{uuid.uuid4().hex}', address()
    files = [('history.csv', 'text/csv', b'date,time\r\n2026-01-02,09:00\r\n')]
    first = mail.queue_message(key, to, 'Your export is ready', 'Attached.',
                               html='<p>Attached.</p>', attachments=files,
                               headers={'X-Clinic': 'yes'})
    again = mail.queue_message(key, to, 'Your export is ready', 'Attached.', attachments=files)

    assert first is not None and first.id and first.status == 'pending'
    assert again is None
    assert OutboxMessage.select().where(OutboxMessage.dedupe_key == key).count() == 1
    [stored] = OutboxAttachment.select().where(OutboxAttachment.message == first.id)
    assert (stored.filename, stored.content_type, bytes(stored.content)) == files[0]


def test_header_injection_is_refused(own_db):
    with pytest.raises(ValueError):
        mail.queue_message('k1', address(), 'Hi\r\nBcc: everyone@example.test', 'x')
    with pytest.raises(ValueError):
        mail.queue_message('k2', address(), 'Hi', 'x', headers={'X-A': 'b\nBcc: c'})


@pytest.fixture
def memory_queue():
    """The shared Huey instance on a storage of its own, to see what is enqueued."""
    saved = huey.storage
    huey.storage = MemoryStorage('outbox-test')
    yield huey
    huey.storage = saved


def test_delivery_is_enqueued_only_after_the_transaction_commits(own_db, memory_queue):
    with database.atomic():
        queue()
        tasks.queue_delivery()
        assert memory_queue.pending_count() == 0
    assert [task.name for task in memory_queue.pending()] == ['deliver_outbox']

    with pytest.raises(RuntimeError):
        with database.atomic():
            queue()
            tasks.queue_delivery()
            raise RuntimeError('rolled back')
    assert memory_queue.pending_count() == 1


def test_a_batch_goes_over_one_smtp_connection(own_db, sink):
    addresses = queue(30)
    report = smtp_delivery.deliver_due(with_smtp(own_db, sink.port))
    assert report['sent'] == 30
    assert sink.connections == 1
    assert sorted(m['to'][0] for m in sink.messages) == sorted(addresses)
    assert all(row(to).status == 'sent' and row(to).sent_at for to in addresses)


def test_smtp_down_then_back_delivers_exactly_once(own_db, sink):
    addresses = queue(5)
    down = with_smtp(own_db, free_port())  # nothing listens there

    before = utcnow()
    report = smtp_delivery.deliver_due(down)
    assert (report['sent'], report['deferred'], report['retry_in']) == (0, 5, 30)
    for to in addresses:
        message = row(to)
        assert (message.status, message.attempts) == ('pending', 1)
        assert 'cannot reach the SMTP server' in message.error
        assert before + datetime.timedelta(seconds=29) < message.next_attempt_at
        assert message.next_attempt_at < utcnow() + datetime.timedelta(seconds=31)
    # Not due yet: a second run leaves them alone.
    assert smtp_delivery.deliver_due(down)['deferred'] == 0

    # Thirty seconds later SMTP is still down: the next wait doubles.
    OutboxMessage.update(next_attempt_at=utcnow()).execute()
    assert smtp_delivery.deliver_due(down)['retry_in'] == 60
    assert {row(to).attempts for to in addresses} == {2}

    OutboxMessage.update(next_attempt_at=utcnow()).execute()
    up = with_smtp(own_db, sink.port)
    assert smtp_delivery.deliver_due(up)['sent'] == 5
    assert smtp_delivery.deliver_due(up)['sent'] == 0
    assert sorted(m['to'][0] for m in sink.messages) == sorted(addresses)
    assert {row(to).status for to in addresses} == {'sent'}


def test_retry_waits_double_from_30_seconds_up_to_30_minutes():
    assert [mail.backoff_seconds(n) for n in range(1, 9)] == [
        30, 60, 120, 240, 480, 960, 1800, 1800]


def test_permanent_rejection_marks_that_message_failed_with_the_reply(own_db, sink):
    rejected, *fine = queue(3)
    sink.reject.add(rejected)
    report = smtp_delivery.deliver_due(with_smtp(own_db, sink.port))
    assert (report['sent'], report['failed']) == (2, 1)
    message = row(rejected)
    assert message.status == 'failed'
    assert message.error == '550 5.1.1 mailbox unavailable'
    assert all(row(to).status == 'sent' for to in fine)
    assert smtp_delivery.deliver_due(with_smtp(own_db, sink.port))['sent'] == 0  # never retried


def test_temporary_rejection_keeps_the_message_pending(own_db, sink):
    busy, fine = queue(2)
    sink.busy.add(busy)
    report = smtp_delivery.deliver_due(with_smtp(own_db, sink.port))
    assert (report['sent'], report['deferred']) == (1, 1)
    message = row(busy)
    assert (message.status, message.attempts) == ('pending', 1)
    assert message.error.startswith('451')
    assert row(fine).status == 'sent'


def test_two_delivery_runs_at_once_send_each_message_once(own_db, sink):
    addresses = queue(300)
    settings = with_smtp(own_db, sink.port)
    reports = []

    def run():
        with database.connection_context():
            reports.append(smtp_delivery.deliver_due(settings, batch_size=20))

    runs = [threading.Thread(target=run) for _ in range(3)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(60)
    assert sum(r['sent'] for r in reports) == 300
    received = [m['to'][0] for m in sink.messages]
    assert len(received) == 300 and set(received) == set(addresses)


def test_claims_left_by_a_killed_consumer_are_settled_without_resending(own_db):
    on_the_wire, *waiting = queue(4)
    proc_owner = f'{socket.gethostname()}:999999999'  # no such process
    token = f'{proc_owner}/abc123'
    (OutboxMessage.update(status=mail.CLAIMED, claimed_by=token, claimed_at=utcnow())
     .where(OutboxMessage.to.in_([on_the_wire, *waiting])).execute())
    OutboxMessage.update(status=mail.SENDING).where(OutboxMessage.to == on_the_wire).execute()

    assert mail.recover_abandoned() == (3, 1)
    # The one the server may have accepted is not sent again.
    assert (row(on_the_wire).status, row(on_the_wire).error) == ('uncertain', mail.IN_DOUBT)
    assert {row(to).status for to in waiting} == {'pending'}


def test_claims_of_a_live_consumer_are_left_alone(own_db):
    to, = queue(1)
    token = f'{workers.identity()}/live'
    (OutboxMessage.update(status=mail.CLAIMED, claimed_by=token, claimed_at=utcnow())
     .where(OutboxMessage.to == to).execute())
    assert mail.recover_abandoned() == (0, 0)
    assert row(to).status == mail.CLAIMED


def test_without_an_smtp_server_mail_waits_in_the_outbox(own_db):
    to, = queue(1)
    report = smtp_delivery.deliver_due(own_db.with_changes(smtp_host=None))
    assert 'no SMTP server' in report['skipped']
    assert row(to).status == 'pending' and row(to).attempts == 0


@pytest.fixture
def no_smtp_site(own_db):
    """The app with no SMTP_HOST, on its own database, and its admin."""
    site = ServerThread(create_app(own_db.with_changes(smtp_host=None))).start()
    email = address('admin')
    accounts.create_or_reset_admin(email, PASSWORD)
    yield Client(site.url).login(email, PASSWORD), Client(site.url)
    site.stop()


def test_outbox_page_shows_mail_kept_without_smtp_with_its_attachments(no_smtp_site):
    admin, anon = no_smtp_site
    key = f'export:{uuid.uuid4().hex}'
    message = mail.queue_message(key, address(), 'Your export is ready', 'Plain words.',
                                 html='<p>The <b>export</b> "is" ready</p>',
                                 attachments=[('history.csv', 'text/csv', b'a,b\r\n1,2\r\n')])

    page = admin.get('/admin/outbox')
    assert page.status == 200
    assert 'No SMTP server is configured' in page.text
    assert 'Your export is ready' in page.text

    view = admin.get(f'/admin/outbox/{message.id}')
    assert view.status == 200
    assert re.search(r'<iframe[^>]*sandbox[^>]*srcdoc="&lt;p&gt;The &lt;b&gt;export', view.text)
    assert 'Plain words.' in view.text
    [link] = re.findall(rf'/admin/outbox/{message.id}/attachments/\d+', view.text)
    download = admin.get(link)
    assert download.status == 200 and download.body == b'a,b\r\n1,2\r\n'
    assert 'attachment; filename="history.csv"' in download.headers['Content-Disposition']
    assert anon.get(link).status in (302, 303)  # to the login page


def test_outbox_api_lists_newest_first_for_admins_only(base_url, admin, patient, doctor):
    with database.connection_context():
        older = mail.queue_message(f'test:{uuid.uuid4().hex}', address(), 'Older', 'x')
        newer = mail.queue_message(f'test:{uuid.uuid4().hex}', address(), 'Newer', 'x')
    resp = admin.get('/api/outbox?limit=1000')
    assert resp.status == 200
    items = resp.json['items']
    ids = [item['id'] for item in items]
    assert ids.index(newer.id) < ids.index(older.id)
    item = items[ids.index(newer.id)]
    assert set(item) == {'id', 'to', 'subject', 'status', 'attempts', 'created_at', 'sent_at',
                         'error'}
    assert item['subject'] == 'Newer' and item['status'] in ('pending', 'sent')
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d', item['created_at'])
    assert resp.json['total'] >= 2 and resp.json['limit'] == 1000
    assert admin.get('/api/outbox?status=bogus').status == 400
    assert patient.get('/api/outbox').status == 403
    assert doctor.get('/admin/outbox').status == 403
    assert Client(base_url).get('/api/outbox').status == 401


def test_consumer_delivers_once_when_smtp_comes_back(tmp_path, settings):
    port = free_port()
    env = base_env(tmp_path / 'r3', port)  # SMTP_HOST set, but nothing listens yet
    own = load(env)
    init_database(own.database_url)
    apply_migrations()
    try:
        with database.connection_context():
            to, = queue(1)
    finally:
        init_database(settings.database_url)
    db_path = own.data_dir / 'clinic.db'

    def outbox():
        with sqlite3.connect(db_path, timeout=10) as conn:
            return conn.execute('SELECT status, attempts, error FROM outbox_message').fetchone()

    worker = WorkerProcess(env).start()
    late = CountingSink()
    controller = Controller(late, hostname='127.0.0.1', port=port)
    try:
        # Housekeeping finds the due message at start; the server is down.
        wait_until(lambda: outbox()[1] >= 1, 20, message='first attempt')
        status, attempts, error = outbox()
        assert (status, attempts) == ('pending', 1) and 'cannot reach' in error
        controller.start()
        # The retry comes by itself, 30 s after the failed attempt.
        wait_until(lambda: outbox()[0] == 'sent', 45, interval=0.2, message='delivered')
    finally:
        worker.stop()
        controller.stop()
    assert outbox()[:2] == ('sent', 2)
    assert [m['to'] for m in late.messages] == [[to]]


def test_with_smtp_an_admin_reading_a_message_cannot_use_its_live_links(own_db):
    token, signed = 'k3yT0ken-_x', 'confirm.12.34.2000000000.c2lnbmF0dXJl'
    body = (f'Set your password: https://clinic.example/reset?token={token}\n'
            f'Confirm: https://clinic.example/r/{signed}\n')
    message = mail.queue_message(f'test:{uuid.uuid4().hex}', address(), 'Links', body,
                                 html=f'<a href="https://clinic.example/r/{signed}">Confirm</a>')
    email = address('admin')
    accounts.create_or_reset_admin(email, PASSWORD)
    for smtp_host, hidden in (('127.0.0.1', True), (None, False)):
        site = ServerThread(create_app(own_db.with_changes(smtp_host=smtp_host))).start()
        try:
            view = Client(site.url).login(email, PASSWORD).get(f'/admin/outbox/{message.id}')
        finally:
            site.stop()
        assert view.status == 200 and 'Set your password' in view.text
        assert (token in view.text) is not hidden and (signed in view.text) is not hidden
        assert ('only the recipient can use this link' in view.text) is hidden
