"""The outbox: every email is written to the database first, then delivered.

A job queues messages (a dedupe key makes a rerun a no-op) and asks for
delivery after its transaction commits. A delivery run claims due messages,
sends them in id order over one SMTP connection and records each outcome as
soon as the server answers. Claimed rows are 'claimed'; the one message on
the wire is 'sending'. A consumer killed mid-batch therefore leaves exactly
one message whose fate is unknown: it is marked failed (never sent twice),
the rest go back to pending (never lost). The API shows both internal
states as 'pending'.
"""
import base64
import binascii
import contextlib
import datetime
import email.header
import email.utils
import functools
import hashlib
import json
import logging
import smtplib
import ssl
import threading
import urllib.parse
import uuid
from pathlib import Path

import jinja2
import peewee

from app.db import database
from app.models import OutboxAttachment, OutboxMessage, utcnow
from app.schedule import owner_alive, worker_id

log = logging.getLogger('clinicdesk.mail')

CLAIMED, SENDING = 'claimed', 'sending'
IN_FLIGHT = (CLAIMED, SENDING)
BATCH_SIZE = 100
# Connections one delivery run may open at once for a backlog: waiting for
# the server's replies overlaps, as in any MTA (SPEC §7 P2). Kept small so a
# provider's limit on concurrent connections is not hit.
MAX_CONNECTIONS = 3
INSERT_CHUNK = 100
SMTP_TIMEOUT = 30
# First retry after 30 s, doubling up to 30 minutes (SPEC §3).
FIRST_RETRY = 30
MAX_RETRY = 1800
# A claim held longer than this by a live consumer is considered stuck.
MAX_CLAIM = datetime.timedelta(hours=1)
IN_DOUBT = ('the consumer stopped while the SMTP server was accepting this message; '
            'it may have been delivered, so it is not sent again automatically')


templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent.parent / 'templates')),
    autoescape=jinja2.select_autoescape(['html']),
    auto_reload=False,  # no stat() of the template file for each of 10,000 emails
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template, **context):
    """Render a mail template (templates/mail/...); .html is autoescaped."""
    return templates.get_template(template).render(**context)


def public_status(status):
    return 'pending' if status in IN_FLIGHT else status


# ---- queueing -----------------------------------------------------------------

def _one_line(value, field):
    if value is None or '\n' in value or '\r' in value:
        raise ValueError(f'{field}: must be one line of text')
    return value


def _row(dedupe_key, to, subject, text, html=None, headers=None, now_utc=None):
    for name, value in (headers or {}).items():
        _one_line(name, 'header name')
        _one_line(value, f'header {name}')
    return {'dedupe_key': _one_line(dedupe_key, 'dedupe_key'), 'to': _one_line(to, 'to'),
            'subject': _one_line(subject, 'subject'), 'text_body': text, 'html_body': html,
            'headers': json.dumps(headers or {}), 'status': 'pending', 'attempts': 0,
            'next_attempt_at': now_utc, 'created_at': now_utc}


def queue_messages(messages, now_utc=None):
    """Insert many messages at once: an iterable of dicts with the arguments
    of queue_message. Returns the OutboxMessages inserted; those whose dedupe
    key exists already are left out. Two queries per 100 messages."""
    now_utc = now_utc or utcnow()
    inserted = []
    # Atomic, so no message is ever delivered without its attachments (the
    # caller's transaction, if any, is enough: no savepoint per call).
    with database.atomic() if not database.in_transaction() else contextlib.nullcontext():
        for chunk in peewee.chunked(messages, INSERT_CHUNK):
            rows = {}
            for message in chunk:
                fields = dict(message)
                attachments = tuple(fields.pop('attachments', ()) or ())
                row = _row(now_utc=now_utc, **fields)
                rows[row['dedupe_key']] = (row, attachments)
            inserted.extend(_insert_chunk(rows))
    return inserted


def _insert_chunk(rows):
    created = _insert(OutboxMessage, [row for row, _ in rows.values()],
                      ' ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key')
    messages, files = [], []
    for message_id, dedupe_key in created:
        row, attachments = rows[dedupe_key]
        messages.append(OutboxMessage(id=message_id, **row))
        files.extend({'message': message_id, 'filename': name, 'content_type': kind,
                      'content': content} for name, kind, content in attachments)
    for chunk in peewee.chunked(files, INSERT_CHUNK):
        _insert(OutboxAttachment, chunk)
    return messages


def _insert(model, rows, suffix=''):
    """A multi-row INSERT of `rows` (dicts keyed by field name). Written out:
    the query builder spent longer on 100 rows than SQLite did (SPEC §7 P2).
    ON CONFLICT ... RETURNING reads the same on SQLite 3.35+ and PostgreSQL."""
    fields = [model._meta.fields[name] for name in rows[0]]
    columns = ', '.join(f'"{field.column_name}"' for field in fields)
    one_row = '(' + ', '.join([database.param] * len(fields)) + ')'
    sql = (f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES '
           + ', '.join([one_row] * len(rows)) + suffix)
    params = [field.db_value(row[field.name]) for row in rows for field in fields]
    cursor = database.execute_sql(sql, params)
    return cursor.fetchall() if suffix else cursor


def queue_message(dedupe_key, to, subject, text, html=None, attachments=(), headers=None):
    """Put one message in the outbox unless `dedupe_key` is there already
    (then None). Runs in the caller's transaction, if any; call
    request_delivery() afterwards to have it sent."""
    inserted = queue_messages([{'dedupe_key': dedupe_key, 'to': to, 'subject': subject,
                                'text': text, 'html': html, 'attachments': attachments,
                                'headers': headers}])
    return inserted[0] if inserted else None


def request_delivery():
    """Enqueue a delivery run. Inside a transaction it is enqueued only after
    the commit, so the consumer never looks before the rows are visible."""
    database.after_commit(_enqueue_delivery)


def _enqueue_delivery():
    # tasks.py imports this module; importing it here avoids the cycle.
    from tasks import deliver_outbox
    try:
        deliver_outbox()
    except Exception as exc:
        # The mail is committed as pending and housekeeping sends due mail
        # every minute, so nothing is lost. Raising here would only surface
        # as peewee's "no transaction is active" in place of this error.
        log.warning('could not queue mail delivery now (%s); housekeeping will retry',
                    type(exc).__name__)


# ---- composing the MIME message -----------------------------------------------

@functools.lru_cache(maxsize=8)
def sender(mail_from):
    """(From header, envelope address, domain) of MAIL_FROM, parsed once
    rather than for each of thousands of messages."""
    name, address = email.utils.parseaddr(mail_from)
    return (email.utils.formataddr((name, address), charset='utf-8'), address,
            address.rpartition('@')[2] or 'localhost')


def message_id(message, mail_from):
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:16]
    return f'<outbox.{message.id}.{digest}@{sender(mail_from)[2]}>'


def mime_bytes(message, attachments, mail_from):
    """The outbox row as RFC 5322 bytes with CRLF line ends, ready for
    smtplib. Assembled directly: the email package's object model costs
    about 2 ms a message, more than the SMTP exchange itself (SPEC §7 P2).
    The Message-ID is stable, so a client can tell a resend from new mail."""
    headers = [('From', sender(mail_from)[0]),
               ('To', message.to),
               ('Subject', _header_text(message.subject)),
               ('Date', email.utils.format_datetime(
                   (message.created_at or utcnow()).replace(tzinfo=datetime.timezone.utc))),
               ('Message-ID', message_id(message, mail_from)),
               ('MIME-Version', '1.0')]
    headers += [(name, _header_text(value))
                for name, value in json.loads(message.headers or '{}').items()]
    part_headers, body = _body(message, attachments)
    head = '\r\n'.join(f'{name}: {value}' for name, value in headers + part_headers)
    return head.encode('utf-8') + b'\r\n\r\n' + body


def _header_text(value):
    if value.isascii():
        return value
    return email.header.Header(value, 'utf-8').encode(linesep='\r\n')


def _body(message, attachments):
    """(headers, bytes) of the root part: text, text + HTML, plus files."""
    root = _text(message.text_body, 'plain')
    if message.html_body:
        root = _multipart('alternative', [root, _text(message.html_body, 'html')])
    if attachments:
        root = _multipart('mixed', [root] + [_attachment(item) for item in attachments])
    return root


def _text(text, subtype):
    # Quoted-printable keeps the text readable and every line short.
    payload = binascii.b2a_qp(text.replace('\r\n', '\n').encode('utf-8'), istext=True)
    return ([('Content-Type', f'text/{subtype}; charset="utf-8"'),
             ('Content-Transfer-Encoding', 'quoted-printable')],
            payload.replace(b'\n', b'\r\n'))


def _attachment(item):
    name = item.filename
    if name.isascii():
        disposition = 'attachment; filename="{}"'.format(
            name.replace('\\', '_').replace('"', '_'))
    else:
        disposition = "attachment; filename*=utf-8''" + urllib.parse.quote(name, safe='')
    return ([('Content-Type', item.content_type),
             ('Content-Transfer-Encoding', 'base64'),
             ('Content-Disposition', disposition)],
            base64.encodebytes(bytes(item.content)).replace(b'\n', b'\r\n'))


def _multipart(subtype, parts):
    # '=_' never occurs in quoted-printable or base64 text.
    boundary = f'=_{uuid.uuid4().hex}'
    marker = f'--{boundary}\r\n'.encode()
    chunks = []
    for headers, body in parts:
        head = '\r\n'.join(f'{name}: {value}' for name, value in headers)
        chunks += [marker, head.encode('utf-8'), b'\r\n\r\n', body, b'\r\n']
    chunks.append(f'--{boundary}--\r\n'.encode())
    return [('Content-Type', f'multipart/{subtype}; boundary="{boundary}"')], b''.join(chunks)


# ---- delivery -------------------------------------------------------------------

class DeliveryReport(dict):
    def __init__(self):
        super().__init__(sent=0, failed=0, deferred=0, retry_in=None, error=None)

    def defer(self, delay, error):
        self['deferred'] += 1
        self['error'] = error
        self['retry_in'] = delay if self['retry_in'] is None else min(self['retry_in'], delay)

    def add(self, other):
        for key in ('sent', 'failed', 'deferred'):
            self[key] += other[key]
        if other['retry_in'] is not None:
            self.defer(other['retry_in'], other['error'])
            self['deferred'] -= 1


def backoff_seconds(attempts):
    """Delay before the next try after `attempts` failed tries."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def deliver_due(settings, batch_size=BATCH_SIZE, owner=None, connections=None):
    """Send every due pending message, batch after batch, each connection
    reused for all its batches. A large backlog gets up to MAX_CONNECTIONS
    connections at once. Returns counts and `retry_in` (seconds) when
    something must be tried again."""
    report = DeliveryReport()
    if not settings.smtp_host:
        report['skipped'] = 'no SMTP server is configured; mail stays in the outbox'
        return report
    owner = owner or worker_id()
    if connections is None:
        connections = min(MAX_CONNECTIONS, max(1, -(-due_count() // batch_size)))
    if connections == 1:
        return _deliver_over_one_connection(settings, batch_size, owner, report)
    lanes = [DeliveryReport() for _ in range(connections)]
    errors = []

    def lane(lane_report):
        try:
            with database.connection_context():
                _deliver_over_one_connection(settings, batch_size, owner, lane_report)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lane, args=(r,), name='smtp-lane') for r in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for lane_report in lanes:
        report.add(lane_report)
    if errors:
        raise errors[0]
    return report


def _deliver_over_one_connection(settings, batch_size, owner, report):
    token = f'{owner}/{uuid.uuid4().hex[:12]}'
    smtp = None
    try:
        while True:
            batch = _claim_batch(token, batch_size)
            if not batch:
                break
            if smtp is None:
                smtp = _open_or_defer(settings, batch, token, report)
                if smtp is None:
                    break
            if not _send_batch(smtp, batch, token, settings.mail_from, report):
                break
    except Exception:
        # Our process lives on, so nobody else would free these claims.
        _settle_claim(token)
        raise
    finally:
        _close(smtp)
    return report


def _claim_batch(token, size):
    now = utcnow()
    due = (OutboxMessage.select(OutboxMessage.id)
           .where(OutboxMessage.status == 'pending',
                  OutboxMessage.next_attempt_at <= now)
           .order_by(OutboxMessage.id)
           .limit(size))
    # One statement: rows another run claimed meanwhile fail the status test.
    (OutboxMessage.update(status=CLAIMED, claimed_by=token, claimed_at=now)
     .where(OutboxMessage.id.in_(due),
            OutboxMessage.status == 'pending')
     .execute())
    return list(OutboxMessage.select()
                .where(OutboxMessage.claimed_by == token,
                       OutboxMessage.status == CLAIMED)
                .order_by(OutboxMessage.id))


def _open_or_defer(settings, batch, token, report):
    try:
        return _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        error = f'cannot reach the SMTP server {settings.smtp_host}:{settings.smtp_port}: {exc}'
        log.warning('%s; %d message(s) stay pending', error, len(batch))
        for message in batch:
            _defer(message, token, error, report)
        return None


def _connect(settings):
    host, port = settings.smtp_host, settings.smtp_port
    if settings.smtp_security == 'ssl':
        smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        if settings.smtp_security == 'starttls':
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password or '')
    return smtp


def _close(smtp):
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _attachments_of(batch):
    by_message = {}
    query = (OutboxAttachment.select()
             .where(OutboxAttachment.message.in_([m.id for m in batch]))
             .order_by(OutboxAttachment.id))
    for item in query:
        by_message.setdefault(item.message_id, []).append(item)
    return by_message


def _send_batch(smtp, batch, token, mail_from, report):
    """Send a claimed batch; False when the connection is gone."""
    attachments = _attachments_of(batch)
    envelope_from = sender(mail_from)[1]
    _set_status(batch[0], token, SENDING)
    for index, message in enumerate(batch):
        following = batch[index + 1] if index + 1 < len(batch) else None
        raw = mime_bytes(message, attachments.get(message.id, ()), mail_from)
        outcome, error = _send_one(smtp, envelope_from, message.to, raw)
        if outcome in ('sent', 'failed'):
            _record(message, token, outcome, error, following)
            report[outcome] += 1
            continue
        _defer(message, token, error, report)
        if outcome == 'lost':
            _release(batch[index + 1:], token)
            return False
        if following:
            _set_status(following, token, SENDING)
    return True


def _send_one(smtp, envelope_from, to, raw):
    """('sent'|'failed'|'deferred'|'lost', error). 5xx is permanent, 4xx
    and network trouble are transient; 'lost' means reconnect first."""
    try:
        smtp.sendmail(envelope_from, [to], raw)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _by_code(code, reply)
    except smtplib.SMTPResponseException as exc:
        outcome, error = _by_code(exc.smtp_code, exc.smtp_error)
        return ('lost' if exc.smtp_code == 421 else outcome), error
    except (OSError, smtplib.SMTPException) as exc:
        return 'lost', f'connection to the SMTP server lost: {exc}'
    return 'sent', None


def _by_code(code, reply):
    if isinstance(reply, bytes):
        reply = reply.decode('utf-8', 'replace')
    error = f'{code} {reply}'
    return ('failed' if 500 <= code < 600 else 'deferred'), error


def _ours(message, token):
    return (OutboxMessage.id == message.id) & (OutboxMessage.claimed_by == token)


def _set_status(message, token, status):
    OutboxMessage.update(status=status).where(_ours(message, token)).execute()


# One statement records how the server answered and marks the next message
# as the one on the wire. Plain SQL: building it with the query builder cost
# a third of a millisecond per message (SPEC §7 P2).
RECORD_SQL = (
    'UPDATE {table} SET '
    'status = CASE WHEN id = {p} THEN {p} ELSE {p} END, '
    'sent_at = CASE WHEN id = {p} THEN {p} ELSE sent_at END, '
    'error = CASE WHEN id = {p} THEN {p} ELSE error END, '
    'attempts = CASE WHEN id = {p} THEN attempts + 1 ELSE attempts END, '
    'claimed_by = CASE WHEN id = {p} THEN NULL ELSE claimed_by END '
    'WHERE claimed_by = {p} AND id IN ({p}, {p})')


def _record(message, token, outcome, error, following):
    sql = RECORD_SQL.format(table=OutboxMessage._meta.table_name, p=database.param)
    sent_at = utcnow() if outcome == 'sent' else None
    k = message.id
    database.execute_sql(sql, (k, outcome, SENDING, k, sent_at, k, error, k, k, token,
                               k, following.id if following else None))


def _defer(message, token, error, report):
    attempts = message.attempts + 1
    delay = backoff_seconds(attempts)
    (OutboxMessage.update(status='pending', attempts=attempts, error=error, claimed_by=None,
                          next_attempt_at=utcnow() + datetime.timedelta(seconds=delay))
     .where(_ours(message, token))
     .execute())
    report.defer(delay, error)


def _release(messages, token):
    if messages:
        (OutboxMessage.update(status='pending', claimed_by=None)
         .where(OutboxMessage.id.in_([m.id for m in messages]),
                OutboxMessage.claimed_by == token,
                OutboxMessage.status.in_(IN_FLIGHT))
         .execute())


def recover_abandoned(now_utc=None):
    """Claims whose consumer died: unsent messages go back to pending, the
    one that was on the wire is marked failed (it may have arrived).
    Returns (released, in_doubt)."""
    now_utc = now_utc or utcnow()
    released = in_doubt = 0
    # Read it all before writing: an UPDATE while this SELECT is still open
    # would fail at once on SQLite if another writer committed meanwhile.
    claims = list(OutboxMessage.select(OutboxMessage.claimed_by,
                                       peewee.fn.MIN(OutboxMessage.claimed_at))
                  .where(OutboxMessage.status.in_(IN_FLIGHT))
                  .group_by(OutboxMessage.claimed_by)
                  .tuples())
    for token, claimed_at in claims:
        owner = (token or '').partition('/')[0]
        if owner_alive(owner, now_utc) and claimed_at and claimed_at > now_utc - MAX_CLAIM:
            continue
        doubt, freed = _settle_claim(token)
        in_doubt += doubt
        released += freed
    if released or in_doubt:
        log.warning('recovered abandoned outbox claims: %d back to pending, %d in doubt (failed)',
                    released, in_doubt)
    return released, in_doubt


def _settle_claim(token):
    """End a claim nobody will finish: (in doubt, released)."""
    in_doubt = (OutboxMessage.update(status='failed', error=IN_DOUBT, claimed_by=None,
                                     attempts=OutboxMessage.attempts + 1)
                .where(OutboxMessage.claimed_by == token,
                       OutboxMessage.status == SENDING)
                .execute())
    released = (OutboxMessage.update(status='pending', claimed_by=None)
                .where(OutboxMessage.claimed_by == token,
                       OutboxMessage.status == CLAIMED)
                .execute())
    return in_doubt, released


def due_count(now_utc=None):
    return (OutboxMessage.select()
            .where(OutboxMessage.status == 'pending',
                   OutboxMessage.next_attempt_at <= (now_utc or utcnow()))
            .count())


def counts():
    """{'pending','sent','failed'} for the status page."""
    totals = {'pending': 0, 'sent': 0, 'failed': 0}
    query = (OutboxMessage.select(OutboxMessage.status, peewee.fn.COUNT(OutboxMessage.id))
             .group_by(OutboxMessage.status)
             .tuples())
    for status, count in query:
        totals[public_status(status)] = totals.get(public_status(status), 0) + count
    return totals
