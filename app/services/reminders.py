"""Daily reminders: one email per patient with booked appointments on a
clinic day, listing them all, with an .ics file and a one-click unsubscribe.

A visit whose start has passed when the job runs is left out (SPEC §8): a
late catch-up reminds only what is still ahead. The dedupe key is per
patient and day, so a visit moved to another day is reminded on its new
day, and one moved within a day already reminded is not reminded twice
(the move's own email gives the new time).

One query reads the day (appointments joined to patients and doctors); per
500 patients one more finds reminders already queued and two insert the new
ones, so the query count grows with batches, never per appointment.
"""
import dataclasses
import datetime
import itertools
from urllib.parse import urlparse

import peewee

from app import mail
from app.auth import sign, verify_signature
from app.clock import UTC, Clock, naive_utc
from app.models import Appointment, OutboxMessage, User
from app.recurrence import local_instant
from app.templating import render_email

PATIENTS_PER_BATCH = 500

Doctor = User.alias('doctor')
Patient = User.alias('patient')


@dataclasses.dataclass
class Visit:
    id: int
    time: str
    doctor: str
    specialization: str
    starts: datetime.datetime     # aware, clinic time
    minutes: int


@dataclasses.dataclass
class Recipient:
    id: int
    email: str
    name: str
    visits: list


def dedupe_key(patient_id, day):
    return f'reminder:{patient_id}:{day.isoformat()}'


def recipients(day, tz):
    """Patients with an email, reminders on and booked appointments on
    `day`, each with that day's visits in time order. One query."""
    rows = (Appointment
            .select(Appointment.patient, Patient.email, Patient.name, Appointment.id,
                    Appointment.time, Appointment.minutes, Doctor.name, Doctor.specialization)
            .join(Patient, on=(Appointment.patient == Patient.id)).switch(Appointment)
            .join(Doctor, on=(Appointment.doctor == Doctor.id))
            .where(Appointment.date == day,
                   Appointment.status == 'booked',
                   Patient.reminders_enabled == True,  # noqa: E712
                   Patient.active == True,  # noqa: E712
                   Patient.email.is_null(False))  # a walk-in may have no email
            .order_by(Appointment.patient, Appointment.time, Appointment.id)
            .tuples())
    found = []
    for (patient_id, email, name), group in itertools.groupby(rows, key=lambda r: r[:3]):
        visits = [Visit(appt_id, time, doctor, specialization or '',
                        local_instant(day, datetime.time.fromisoformat(time), tz), minutes)
                  for _, _, _, appt_id, time, minutes, doctor, specialization in group]
        found.append(Recipient(patient_id, email, name, visits))
    return found


def still_ahead(everyone, now):
    """The recipients with only their visits that start after `now` (aware),
    and how many visits were left out for having started."""
    # Aware datetimes sharing a zone compare by wall time, fold ignored: in
    # an autumn repeat that would call a started visit ahead. UTC does not.
    now = now.astimezone(UTC)
    ahead, started = [], 0
    for patient in everyone:
        visits = [visit for visit in patient.visits if visit.starts.astimezone(UTC) > now]
        started += len(patient.visits) - len(visits)
        if visits:
            ahead.append(dataclasses.replace(patient, visits=visits))
    return ahead, started


def send_for_day(settings, day, clock=None):
    """Queue the reminders for clinic date `day` in the outbox, for the
    visits still ahead at `clock`'s now. Idempotent: a patient already
    reminded for `day` is skipped."""
    now = (clock or Clock(settings.tz)).now()
    now_utc = naive_utc(now)
    everyone, started = still_ahead(recipients(day, settings.tz), now)
    queued = 0
    for batch in peewee.chunked(everyone, PATIENTS_PER_BATCH):
        keys = {dedupe_key(patient.id, day): patient for patient in batch}
        done = set(OutboxMessage.select(OutboxMessage.dedupe_key)
                   .where(OutboxMessage.dedupe_key.in_(list(keys)))
                   .tuples()
                   .iterator())
        todo = [compose(settings, patient, day, now_utc)
                for key, patient in keys.items() if (key,) not in done]
        if todo:
            queued += len(mail.queue_messages(todo, now_utc))
    return {'date': day.isoformat(), 'patients': len(everyone),
            'appointments': sum(len(p.visits) for p in everyone), 'queued': queued,
            'started': started}


def nice_day(day):
    return f'{day:%A} {day.day} {day:%B %Y}'


def subject_for(patient, day):
    if len(patient.visits) == 1:
        visit = patient.visits[0]
        return f'Reminder: your appointment on {day:%a} {day.day} {day:%b} at {visit.time}'
    return f'Reminder: your {len(patient.visits)} appointments on {day:%a} {day.day} {day:%b}'


def compose(settings, patient, day, now_utc):
    """The outbox message (queue_messages form) reminding `patient`."""
    link = unsubscribe_url(settings, patient.id)
    context = {'name': patient.name, 'visits': patient.visits, 'day': nice_day(day),
               'clinic_name': settings.clinic_name, 'clinic_address': settings.clinic_address,
               'unsubscribe_url': link}
    filename = 'appointment.ics' if len(patient.visits) == 1 else 'appointments.ics'
    return {
        'dedupe_key': dedupe_key(patient.id, day),
        'to': patient.email,
        'subject': subject_for(patient, day),
        'text': render_email('mail/reminder.txt', **context),
        'html': render_email('mail/reminder.html', **context),
        'attachments': [(filename, 'text/calendar; charset=utf-8; method=PUBLISH',
                         calendar(settings, patient.visits, now_utc))],
        'headers': {'List-Unsubscribe': f'<{link}>',
                    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click'},
    }


def _ics_text(value):
    return (value.replace('\\', '\\\\').replace(';', '\\;').replace(',', '\\,')
            .replace('\r\n', '\\n').replace('\n', '\\n'))


def _ics_time(instant):
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


def calendar(settings, visits, now_utc):
    """An .ics with one VEVENT per visit, times in UTC, CRLF line ends."""
    host = urlparse(settings.base_url).hostname or 'clinicdesk'
    stamp = _ics_time(now_utc.replace(tzinfo=UTC))
    lines = ['BEGIN:VCALENDAR', 'VERSION:2.0',
             f'PRODID:-//{_ics_text(settings.clinic_name)}//Reminders//EN',
             'CALSCALE:GREGORIAN', 'METHOD:PUBLISH']
    for visit in visits:
        title = f'Appointment with {visit.doctor}'
        if visit.specialization:
            title += f' ({visit.specialization})'
        lines += ['BEGIN:VEVENT', f'UID:appointment-{visit.id}@{host}', f'DTSTAMP:{stamp}',
                  f'DTSTART:{_ics_time(visit.starts)}',
                  f'DTEND:{_ics_time(visit.starts + datetime.timedelta(minutes=visit.minutes))}',
                  f'SUMMARY:{_ics_text(title)}',
                  f'DESCRIPTION:{_ics_text(settings.clinic_name + ": " + title)}']
        if settings.clinic_address:
            lines.append(f'LOCATION:{_ics_text(settings.clinic_address)}')
        lines += ['STATUS:CONFIRMED', 'END:VEVENT']
    lines.append('END:VCALENDAR')
    return b''.join(_fold(line) + b'\r\n' for line in lines)


def _unsubscribe_message(patient_id):
    return f'unsubscribe:{patient_id}'


def unsubscribe_url(settings, patient_id):
    signature = sign(settings.secret_key, _unsubscribe_message(patient_id))
    return f'{settings.base_url}/unsubscribe/{patient_id}/{signature}'


def patient_for_link(settings, patient_id, signature):
    """The patient a signed unsubscribe link names, or None if it is forged."""
    if not verify_signature(settings.secret_key, _unsubscribe_message(patient_id), signature):
        return None
    return User.get_or_none((User.id == patient_id) & (User.role == 'patient'))


def unsubscribe(patient):
    (User.update(reminders_enabled=False)
     .where(User.id == patient.id)
     .execute())
    patient.reminders_enabled = False
