"""An outbox message as RFC 5322 bytes: pure, no database, no network.

Assembled by hand rather than with the email package's object model, which
costs about 2 ms a message, more than the SMTP exchange itself (SPEC §7 P2).
Text parts are quoted-printable (readable, every line short), attachments
base64, non-ASCII headers RFC 2047 encoded, every line end CRLF.
"""
import base64
import binascii
import datetime
import email.header
import email.utils
import functools
import hashlib
import urllib.parse
import uuid


def one_line(value, field):
    """`value`, refused when it could start a header of its own."""
    if value is None or '\n' in value or '\r' in value:
        raise ValueError(f'{field}: must be one line of text')
    return value


@functools.lru_cache(maxsize=8)
def sender(mail_from):
    """(From header, envelope address, domain) of MAIL_FROM, parsed once
    rather than for each of thousands of messages."""
    name, address = email.utils.parseaddr(mail_from)
    return (email.utils.formataddr((name, address), charset='utf-8'), address,
            address.rpartition('@')[2] or 'localhost')


def message_id(message, mail_from):
    """Stable for a message, so a client can tell a resend from new mail."""
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:16]
    return f'<outbox.{message.id}.{digest}@{sender(mail_from)[2]}>'


def mime_bytes(message, attachments, mail_from):
    """The message as bytes ready for smtplib. `message` has the fields of
    an OutboxMessage (id, dedupe_key, to, subject, text_body, html_body,
    headers a dict, created_at in naive UTC), each attachment those of an
    OutboxAttachment (filename, content_type, content)."""
    created = message.created_at or datetime.datetime.now(datetime.timezone.utc)
    headers = [('From', sender(mail_from)[0]),
               ('To', one_line(message.to, 'to')),
               ('Subject', _header_text(one_line(message.subject, 'subject'))),
               ('Date', email.utils.format_datetime(created.replace(tzinfo=datetime.timezone.utc))),
               ('Message-ID', message_id(message, mail_from)),
               ('MIME-Version', '1.0')]
    headers += [(one_line(name, 'header name'), _header_text(one_line(value, f'header {name}')))
                for name, value in (message.headers or {}).items()]
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
    return ([('Content-Type', one_line(item.content_type, 'content type')),
             ('Content-Transfer-Encoding', 'base64'),
             ('Content-Disposition', one_line(disposition, 'filename'))],
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
