"""The MIME builder (app.mime) is pure: an outbox row, its attachments and
MAIL_FROM in, RFC 5322 bytes out. Each test parses the bytes back with the
standard email package and checks what a mail client would see."""
import datetime
import email
import email.policy
import email.utils
import re

import pytest

from app.mime import mime_bytes
from app.models import OutboxAttachment, OutboxMessage

MAIL_FROM = 'Clínica Sur <no-reply@clinic.test>'
CREATED = datetime.datetime(2026, 3, 9, 7, 30, 15)


def outbox_row(**fields):
    values = {'id': 41, 'dedupe_key': 'reminder:7:2026-03-09', 'to': 'ana@example.test',
              'subject': 'Reminder', 'text_body': 'Hello Ana,\n\nSee you at 09:00.\n',
              'html_body': None, 'headers': {}, 'created_at': CREATED}
    return OutboxMessage(**{**values, **fields})


def attachment(filename, content_type, content):
    return OutboxAttachment(filename=filename, content_type=content_type, content=content)


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def text(part):
    # The parser keeps the wire's CRLF line ends; the outbox stores LF.
    return part.get_content().replace('\r\n', '\n')


def all_defects(message):
    return [defect for part in message.walk() for defect in part.defects]


def test_headers_read_back_including_a_non_ascii_subject_and_sender():
    row = outbox_row(subject='Recordatorio: cita con la Dra. Núñez — mañana',
                     headers={'List-Unsubscribe': '<https://clinic.test/unsubscribe/7/abc>',
                              'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click'})
    parsed = parse(mime_bytes(row, (), MAIL_FROM))

    assert parsed['Subject'] == 'Recordatorio: cita con la Dra. Núñez — mañana'
    assert parsed['From'].addresses[0].display_name == 'Clínica Sur'
    assert parsed['From'].addresses[0].addr_spec == 'no-reply@clinic.test'
    assert parsed['To'] == 'ana@example.test'
    assert parsed['MIME-Version'] == '1.0'
    assert email.utils.parsedate_to_datetime(parsed['Date']) == CREATED.replace(
        tzinfo=datetime.timezone.utc)
    assert parsed['List-Unsubscribe'] == '<https://clinic.test/unsubscribe/7/abc>'
    assert parsed['List-Unsubscribe-Post'] == 'List-Unsubscribe=One-Click'
    assert all_defects(parsed) == []


def test_every_line_ends_with_crlf():
    raw = mime_bytes(outbox_row(html_body='<p>Hello</p>\n'),
                     [attachment('a.csv', 'text/csv', b'x\n' * 100)], MAIL_FROM)
    assert b'\n' not in raw.replace(b'\r\n', b'')


def test_a_text_only_message_is_one_plain_part():
    parsed = parse(mime_bytes(outbox_row(), (), MAIL_FROM))
    assert parsed.get_content_type() == 'text/plain'
    assert parsed.get_content_charset() == 'utf-8'
    assert text(parsed) == 'Hello Ana,\n\nSee you at 09:00.\n'


def test_text_and_html_are_alternatives_of_one_message():
    row = outbox_row(text_body='Café at 09:00.\n', html_body='<p>Café at <b>09:00</b>.</p>\n')
    parsed = parse(mime_bytes(row, (), MAIL_FROM))

    assert parsed.get_content_type() == 'multipart/alternative'
    assert [part.get_content_type() for part in parsed.iter_parts()] == ['text/plain', 'text/html']
    assert text(parsed.get_body(('plain',))) == 'Café at 09:00.\n'
    assert text(parsed.get_body(('html',))) == '<p>Café at <b>09:00</b>.</p>\n'
    assert all_defects(parsed) == []


def test_attachments_round_trip_byte_exact_with_their_names():
    binary = bytes(range(256)) * 40
    calendar = b'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n'
    files = [attachment('historial-año-2025.csv', 'text/csv', 'fecha,médico\r\n'.encode()),
             attachment('appointment.ics', 'text/calendar; charset=utf-8; method=PUBLISH',
                        calendar),
             attachment('scan "front".bin', 'application/octet-stream', binary)]
    row = outbox_row(html_body='<p>Attached.</p>\n')
    parsed = parse(mime_bytes(row, files, MAIL_FROM))

    assert parsed.get_content_type() == 'multipart/mixed'
    body, *attached = parsed.iter_parts()
    assert body.get_content_type() == 'multipart/alternative'
    assert [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in attached] == [
        ('historial-año-2025.csv', 'text/csv', 'fecha,médico\r\n'.encode()),
        ('appointment.ics', 'text/calendar', calendar),
        ('scan _front_.bin', 'application/octet-stream', binary)]
    assert attached[1].get_param('method') == 'PUBLISH'
    assert all_defects(parsed) == []


def test_long_lines_are_quoted_printable_in_short_lines():
    long_line = 'Línea ' + 'muy larga, ' * 120
    raw = mime_bytes(outbox_row(text_body=long_line + '\n'), (), MAIL_FROM)
    head, _, body = raw.partition(b'\r\n\r\n')

    assert b'Content-Transfer-Encoding: quoted-printable' in head
    assert max(len(line) for line in body.split(b'\r\n')) <= 76
    assert text(parse(raw)) == long_line + '\n'


@pytest.mark.parametrize('fields, files', [
    ({'subject': 'Hi\r\nBcc: everyone@example.test'}, ()),
    ({'to': 'ana@example.test\nBcc: everyone@example.test'}, ()),
    ({'headers': {'X-Note': 'ok\r\nBcc: everyone@example.test'}}, ()),
    ({'headers': {'X-Note\nBcc': 'everyone@example.test'}}, ()),
    ({}, [attachment('a.csv\r\nBcc: everyone@example.test', 'text/csv', b'x')]),
])
def test_a_header_injection_attempt_is_refused(fields, files):
    with pytest.raises(ValueError):
        mime_bytes(outbox_row(**fields), files, MAIL_FROM)


def test_the_message_id_is_stable_for_a_message_and_differs_between_messages():
    def message_id(row):
        return parse(mime_bytes(row, (), MAIL_FROM))['Message-ID']

    first = message_id(outbox_row())
    assert message_id(outbox_row()) == first  # a resend carries the same id
    assert re.fullmatch(r'<outbox\.41\.[0-9a-f]{16}@clinic\.test>', first)
    assert message_id(outbox_row(id=42, dedupe_key='reminder:8:2026-03-09')) != first
