"""The .ics calendar files sent with reminders and with a move's email.

UID is the appointment's own (stable across reminders and moves) and
SEQUENCE its move counter, so a calendar app given a later file updates the
event it has instead of adding a second one (RFC 5545 §3.8.7.4). LOCATION is
the clinic's address. Times are UTC; lines end CRLF and fold at 75 octets.
"""
import dataclasses
import datetime
from urllib.parse import urlparse

from app.clock import UTC

CONTENT_TYPE = 'text/calendar; charset=utf-8; method=PUBLISH'


@dataclasses.dataclass(frozen=True)
class Event:
    id: int                       # the appointment's
    doctor: str
    specialization: str
    starts: datetime.datetime     # aware
    minutes: int
    sequence: int


def _text(value):
    return (value.replace('\\', '\\\\').replace(';', '\\;').replace(',', '\\,')
            .replace('\r\n', '\\n').replace('\n', '\\n'))


def _time(instant):
    return instant.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')


def _fold(line):
    """Lines of at most 75 octets; continuations start with a space."""
    raw, parts, limit = line.encode('utf-8'), [], 75
    while len(raw) > limit:
        cut = limit
        while cut and (raw[cut] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            cut -= 1
        parts.append(raw[:cut])
        raw, limit = b' ' + raw[cut:], 75
    parts.append(raw)
    return b'\r\n'.join(parts)


def uid(settings, appointment_id):
    host = urlparse(settings.base_url).hostname or 'clinicdesk'
    return f'appointment-{appointment_id}@{host}'


def _event(settings, visit, stamp):
    """The VEVENT lines of `visit` (id, doctor, specialization, starts aware,
    minutes, sequence)."""
    title = f'Appointment with {visit.doctor}'
    if visit.specialization:
        title += f' ({visit.specialization})'
    lines = ['BEGIN:VEVENT', f'UID:{uid(settings, visit.id)}', f'SEQUENCE:{visit.sequence}',
             f'DTSTAMP:{stamp}', f'DTSTART:{_time(visit.starts)}',
             f'DTEND:{_time(visit.starts + datetime.timedelta(minutes=visit.minutes))}',
             f'SUMMARY:{_text(title)}',
             f'DESCRIPTION:{_text(settings.clinic_name + ": " + title)}']
    if settings.clinic_address:
        lines.append(f'LOCATION:{_text(settings.clinic_address)}')
    return lines + ['STATUS:CONFIRMED', 'END:VEVENT']


def calendar(settings, visits, now_utc):
    """An .ics with one VEVENT per visit."""
    stamp = _time(now_utc.replace(tzinfo=UTC))
    lines = ['BEGIN:VCALENDAR', 'VERSION:2.0',
             f'PRODID:-//{_text(settings.clinic_name)}//Reminders//EN',
             'CALSCALE:GREGORIAN', 'METHOD:PUBLISH']
    for visit in visits:
        lines += _event(settings, visit, stamp)
    lines.append('END:VCALENDAR')
    return b''.join(_fold(line) + b'\r\n' for line in lines)
