"""The outbox: every email is written to the database first, then delivered.

A job queues messages (a dedupe key makes a rerun a no-op) and asks for
delivery after its transaction commits. A delivery run (app.smtp_delivery)
claims due messages, sends them in id order over one SMTP connection and
records each outcome here as soon as the server answers. Claimed rows are
'claimed'; the one message on the wire is 'sending'. A consumer killed
mid-batch therefore leaves exactly one message whose fate is unknown: it is
marked 'uncertain' (never sent again by itself; an admin may resend it with
its Message-ID, so the receiving side can tell), the rest go back to
pending (never lost). The API shows both internal states as 'pending'.
"""
import contextlib
import datetime
import logging

import peewee

from app import workers
from app.db import database
from app.mime import one_line
from app.models import OutboxAttachment, OutboxMessage, utcnow

log = logging.getLogger('clinicdesk.mail')

CLAIMED, SENDING = 'claimed', 'sending'
UNCERTAIN = 'uncertain'
# What an admin may send again (services.outbox.resend).
RESENDABLE = ('failed', UNCERTAIN)
IN_FLIGHT = (CLAIMED, SENDING)
INSERT_CHUNK = 100
# First retry after 30 s, doubling up to 30 minutes (SPEC §3).
FIRST_RETRY = 30
MAX_RETRY = 1800
# A claim held longer than this by a live consumer is considered stuck.
MAX_CLAIM = datetime.timedelta(hours=1)
IN_DOUBT = ('the consumer stopped while the SMTP server was accepting this message; '
            'it may have been delivered, so it is not sent again automatically; '
            'resend it from the outbox if it did not arrive')


def public_status(status):
    return 'pending' if status in IN_FLIGHT else status


def _row(dedupe_key, to, subject, text, html=None, headers=None, now_utc=None):
    for name, value in (headers or {}).items():
        one_line(name, 'header name')
        one_line(value, f'header {name}')
    return {'dedupe_key': one_line(dedupe_key, 'dedupe_key'), 'to': one_line(to, 'to'),
            'subject': one_line(subject, 'subject'), 'text_body': text, 'html_body': html,
            'headers': headers or {}, 'status': 'pending', 'attempts': 0,
            'next_attempt_at': now_utc, 'created_at': now_utc}


def check_message(message):
    """Raise ValueError now for a message queue_messages would refuse, so a
    batch can leave that one out instead of failing for everyone."""
    fields = {name: value for name, value in message.items() if name != 'attachments'}
    _row(**fields)


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
    created = insert_rows(OutboxMessage, [row for row, _ in rows.values()],
                      ' ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key')
    messages, files = [], []
    for message_id, dedupe_key in created:
        row, attachments = rows[dedupe_key]
        messages.append(OutboxMessage(id=message_id, **row))
        files.extend({'message': message_id, 'filename': name, 'content_type': kind,
                      'content': content} for name, kind, content in attachments)
    for chunk in peewee.chunked(files, INSERT_CHUNK):
        insert_rows(OutboxAttachment, chunk)
    return messages


def insert_rows(model, rows, suffix=''):
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
    return cursor.fetchall() if 'RETURNING' in suffix else cursor


def queue_message(dedupe_key, to, subject, text, html=None, attachments=(), headers=None):
    """Put one message in the outbox unless `dedupe_key` is there already
    (then None). Runs in the caller's transaction, if any; the caller (a
    task) then asks for delivery with tasks.queue_delivery()."""
    inserted = queue_messages([{'dedupe_key': dedupe_key, 'to': to, 'subject': subject,
                                'text': text, 'html': html, 'attachments': attachments,
                                'headers': headers}])
    return inserted[0] if inserted else None


def backoff_seconds(attempts):
    """Delay before the next try after `attempts` failed tries."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def claim_batch(token, size):
    """Up to `size` due pending messages, now claimed by `token`, in id order."""
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


def attachments_of(batch):
    """{message id: [OutboxAttachment]} for the messages of `batch`, one query."""
    by_message = {}
    query = (OutboxAttachment.select()
             .where(OutboxAttachment.message.in_([m.id for m in batch]))
             .order_by(OutboxAttachment.id))
    for item in query:
        by_message.setdefault(item.message_id, []).append(item)
    return by_message


def _ours(message, token):
    return (OutboxMessage.id == message.id) & (OutboxMessage.claimed_by == token)


def set_status(message, token, status):
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


def record(message, token, outcome, error, following):
    """`message` was 'sent' or 'failed' (with the server's reply); the
    `following` one, if any, is now the one on the wire."""
    sql = RECORD_SQL.format(table=OutboxMessage._meta.table_name, p=database.param)
    sent_at = utcnow() if outcome == 'sent' else None
    k = message.id
    database.execute_sql(sql, (k, outcome, SENDING, k, sent_at, k, error, k, k, token,
                               k, following.id if following else None))


def defer(message, token, error):
    """Back to pending until its next try; returns the delay in seconds."""
    attempts = message.attempts + 1
    delay = backoff_seconds(attempts)
    (OutboxMessage.update(status='pending', attempts=attempts, error=error, claimed_by=None,
                          next_attempt_at=utcnow() + datetime.timedelta(seconds=delay))
     .where(_ours(message, token))
     .execute())
    return delay


def release(messages, token):
    """Unsent messages of a claim go back to pending as they were."""
    if messages:
        (OutboxMessage.update(status='pending', claimed_by=None)
         .where(OutboxMessage.id.in_([m.id for m in messages]),
                OutboxMessage.claimed_by == token,
                OutboxMessage.status.in_(IN_FLIGHT))
         .execute())


def recover_abandoned(now_utc=None):
    """Claims whose consumer died: unsent messages go back to pending, the
    one that was on the wire is marked uncertain (it may have arrived).
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
        if workers.alive(owner, now_utc) and claimed_at and claimed_at > now_utc - MAX_CLAIM:
            continue
        doubt, freed = settle_claim(token)
        in_doubt += doubt
        released += freed
    if released or in_doubt:
        log.warning('recovered abandoned outbox claims: %d back to pending, %d uncertain',
                    released, in_doubt)
    return released, in_doubt


def settle_claim(token):
    """End a claim nobody will finish: (in doubt, released)."""
    in_doubt = (OutboxMessage.update(status=UNCERTAIN, error=IN_DOUBT, claimed_by=None,
                                     attempts=OutboxMessage.attempts + 1)
                .where(OutboxMessage.claimed_by == token,
                       OutboxMessage.status == SENDING)
                .execute())
    released = (OutboxMessage.update(status='pending', claimed_by=None)
                .where(OutboxMessage.claimed_by == token,
                       OutboxMessage.status == CLAIMED)
                .execute())
    return in_doubt, released


def requeue(message_id):
    """Send a failed or uncertain message again, as it is: same row, so the
    same Message-ID (app.mime). True when it was one of those."""
    return (OutboxMessage.update(status='pending', next_attempt_at=utcnow(), claimed_by=None,
                                 error=None)
            .where(OutboxMessage.id == message_id,
                   OutboxMessage.status.in_(RESENDABLE))
            .execute()) == 1


def due_count(now_utc=None):
    return (OutboxMessage.select()
            .where(OutboxMessage.status == 'pending',
                   OutboxMessage.next_attempt_at <= (now_utc or utcnow()))
            .count())


def counts():
    """{'pending','sent','failed','uncertain'} for the status page."""
    totals = {'pending': 0, 'sent': 0, 'failed': 0, UNCERTAIN: 0}
    query = (OutboxMessage.select(OutboxMessage.status, peewee.fn.COUNT(OutboxMessage.id))
             .group_by(OutboxMessage.status)
             .tuples())
    for status, count in query:
        totals[public_status(status)] = totals.get(public_status(status), 0) + count
    return totals
