"""Delivering the outbox over SMTP: connections, batches, the server's replies.

A run claims due messages batch after batch (app.mail) and sends them in id
order over one connection, recording each outcome as soon as the server
answers. A 5xx reply fails the message with the reply; a 4xx or a network
error defers it (backoff); a lost connection ends the run's batches.
"""
import logging
import threading
import uuid

from app import mail, workers
from app.db import database
from app.mime import mime_bytes, sender
from app.validate import is_addr_spec

log = logging.getLogger('clinicdesk.mail')

BATCH_SIZE = 100
# Connections one delivery run may open at once for a backlog: waiting for
# the server's replies overlaps, as in any MTA (SPEC §7 P2). Kept small so a
# provider's limit on concurrent connections is not hit.
MAX_CONNECTIONS = 3
SMTP_TIMEOUT = 30


class DeliveryReport(dict):
    """What a run did: sent, failed (and which), deferred, and when to come back."""

    def __init__(self):
        super().__init__(sent=0, failed=0, deferred=0, retry_in=None, error=None, failed_ids=[])

    def defer(self, delay, error):
        self['deferred'] += 1
        self['error'] = error
        self['retry_in'] = delay if self['retry_in'] is None else min(self['retry_in'], delay)

    def add(self, other):
        for key in ('sent', 'failed', 'deferred', 'failed_ids'):
            self[key] += other[key]
        if other['retry_in'] is not None:
            self.defer(other['retry_in'], other['error'])
            self['deferred'] -= 1


def deliver_due(settings, batch_size=BATCH_SIZE, owner=None, connections=None):
    """Send every due pending message, batch after batch, each connection
    reused for all its batches. A large backlog gets up to MAX_CONNECTIONS
    connections at once. Returns counts and `retry_in` (seconds) when
    something must be tried again."""
    report = DeliveryReport()
    if not settings.smtp_host:
        report['skipped'] = 'no SMTP server is configured; mail stays in the outbox'
        return report
    owner = owner or workers.identity()
    if connections is None:
        connections = min(MAX_CONNECTIONS, max(1, -(-mail.due_count() // batch_size)))
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
            batch = mail.claim_batch(token, batch_size)
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
        mail.settle_claim(token)
        raise
    finally:
        _close(smtp)
    return report


def _open_or_defer(settings, batch, token, report):
    import smtplib  # here, as below: smtplib loads OpenSSL (SPEC P6), only for a real server
    try:
        return _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        error = f'cannot reach the SMTP server {settings.smtp_host}:{settings.smtp_port}: {exc}'
        log.warning('%s; %d message(s) stay pending', error, len(batch))
        for message in batch:
            report.defer(mail.defer(message, token, error), error)
        return None


def _connect(settings):
    import smtplib
    import ssl
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
    import smtplib
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _send_batch(smtp, batch, token, mail_from, report):
    """Send a claimed batch; False when the connection is gone."""
    attachments = mail.attachments_of(batch)
    envelope_from = sender(mail_from)[1]
    mail.set_status(batch[0], token, mail.SENDING)
    for index, message in enumerate(batch):
        following = batch[index + 1] if index + 1 < len(batch) else None
        outcome, error = _compose_and_send(smtp, envelope_from, message,
                                           attachments.get(message.id, ()), mail_from)
        if outcome in ('sent', 'failed'):
            mail.record(message, token, outcome, error, following)
            report[outcome] += 1
            if outcome == 'failed':
                report['failed_ids'].append(message.id)
            continue
        report.defer(mail.defer(message, token, error), error)
        if outcome == 'lost':
            mail.release(batch[index + 1:], token)
            return False
        if following:
            mail.set_status(following, token, mail.SENDING)
    return True


def _compose_and_send(smtp, envelope_from, message, attachments, mail_from):
    """_send_one's outcome, or 'failed' before sending when this message
    cannot be sent as it is: its own fault fails it alone, never the batch."""
    if not is_addr_spec(message.to):
        return 'failed', f'the recipient {message.to!r} is not a plain email address'
    try:
        raw = mime_bytes(message, attachments, mail_from)
    except (ValueError, UnicodeError) as exc:
        return 'failed', f'the message cannot be encoded: {exc}'
    import smtplib
    options = []
    if not (message.to.isascii() and envelope_from.isascii()):
        try:
            smtp.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            return 'lost', f'connection to the SMTP server lost: {exc}'
        if not smtp.has_extn('smtputf8'):
            return 'failed', ('the mail server does not accept international addresses '
                              '(it does not offer SMTPUTF8)')
        options = ['SMTPUTF8']
    return _send_one(smtp, envelope_from, message.to, raw, options)


def _send_one(smtp, envelope_from, to, raw, options=()):
    """('sent'|'failed'|'deferred'|'lost', error). 5xx is permanent, 4xx
    and network trouble are transient; 'lost' means reconnect first."""
    import smtplib
    try:
        smtp.sendmail(envelope_from, [to], raw, mail_options=list(options))
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
