"""Reminders (SPEC §3.1, §11): the same-day email at REMINDER_TIME, the
evening-before one at REMINDER_DAY_BEFORE (for tomorrow's visits) and one
REMINDER_HOURS_BEFORE hours before each visit, checked every minute.

A day-based reminder is one email per patient and day listing that day's
visits; its outbox dedupe key is per (patient, day, kind), so a rerun, a
second worker or a killed one never sends a second. A visit moved to
another day is reminded on its new day; one moved within a day already
reminded is not (the move's own email gives the new time). The
hours_before email is per visit, keyed by its start.

Each appointment gets a Reminder row per kind, written in the transaction
that queues its email: queued (then the message tells sent or failed),
skipped with why, or failed with why when its email could not be made. One
bad record (an address that cannot be a header, a template that fails) is
marked failed and the others go out.
"""
import dataclasses
import datetime
import itertools
import logging

import peewee

from app import mail
from app.auth import sign, verify_signature
from app.clock import UTC, Clock, naive_utc
from app.db import database
from app.models import Appointment, OutboxMessage, Reminder, User
from app.recurrence import local_instant
from app.services import ics, reminder_links
from app.templating import render_email

log = logging.getLogger('clinicdesk.reminders')

PATIENTS_PER_BATCH = 500
KINDS = ('same_day', 'day_before', 'hours_before')
OFF = 'reminders off'
BOOKED_LATE = 'booked after the reminder time'
STARTED = 'appointment already started'
CANCELLED = 'cancelled'
NO_EMAIL = 'no email address'

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
    sequence: int = 0
    status: str = 'booked'
    created_at: datetime.datetime | None = None  # naive UTC
    links: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Recipient:
    id: int
    email: str | None
    name: str
    visits: list
    reminders_enabled: bool = True


def dedupe_key(patient_id, day, kind='same_day'):
    # same_day keeps the key it had before there were other kinds.
    prefix = 'reminder' if kind == 'same_day' else f'reminder-{kind}'
    return f'{prefix}:{patient_id}:{day.isoformat()}'


def visit_key(visit):
    return f'reminder-hours_before:{visit.id}:{visit.starts:%Y-%m-%dT%H:%M}'


def _columns():
    return (Appointment.patient, Patient.email, Patient.name, Patient.reminders_enabled,
            Appointment.id, Appointment.date, Appointment.time, Appointment.minutes,
            Appointment.ics_sequence, Appointment.status, Appointment.created_at,
            Doctor.name, Doctor.specialization)


def _select(*columns):
    return (Appointment.select(*columns)
            .join(Patient, on=(Appointment.patient == Patient.id)).switch(Appointment)
            .join(Doctor, on=(Appointment.doctor == Doctor.id)))


def _grouped(rows, tz):
    """Recipients from rows of _columns(), grouped by patient in row order."""
    found = []
    for (patient_id, email, name, enabled), group in itertools.groupby(rows, key=lambda r: r[:4]):
        visits = [Visit(appt_id, time, doctor, specialization or '',
                        local_instant(day, datetime.time.fromisoformat(time), tz), minutes,
                        sequence, status, created_at)
                  for (_, _, _, _, appt_id, day, time, minutes, sequence, status, created_at,
                       doctor, specialization) in group]
        found.append(Recipient(patient_id, email, name, visits, enabled))
    return found


def recipients(day, tz):
    """The patients with booked or cancelled appointments on `day`, each
    with that day's visits in time order. One query."""
    rows = (_select(*_columns())
            .where(Appointment.date == day,
                   Appointment.status.in_(('booked', 'cancelled')),
                   Patient.active == True)  # noqa: E712
            .order_by(Appointment.patient, Appointment.time, Appointment.id)
            .tuples())
    return _grouped(rows, tz)


def why_not(patient, visit, now):
    """Why `visit` gets no reminder at `now` (aware), or None."""
    if visit.status == 'cancelled':
        return CANCELLED
    if not patient.reminders_enabled:
        return OFF
    if not patient.email:
        return NO_EMAIL  # a walk-in may have no email
    # Aware datetimes sharing a zone compare by wall time, fold ignored: in
    # an autumn repeat that would call a started visit ahead. UTC does not.
    if visit.starts.astimezone(UTC) <= now.astimezone(UTC):
        return STARTED
    return None


def sort_out(everyone, now):
    """(recipients with only the visits to remind, [(visit id, reason)] skipped)."""
    ahead, skipped = [], []
    for patient in everyone:
        visits = []
        for visit in patient.visits:
            reason = why_not(patient, visit, now)
            if reason:
                skipped.append((visit.id, reason))
            else:
                visits.append(visit)
        if visits:
            ahead.append(dataclasses.replace(patient, visits=visits))
    return ahead, skipped


def _record_rows(kind, now_utc, outcomes):
    return [{'appointment': appt_id, 'kind': kind, 'status': status, 'reason': reason,
             'at': now_utc, 'message': message_id}
            for appt_id, status, reason, message_id in outcomes]


def record(kind, now_utc, outcomes):
    """Write (appointment id, status, reason, message id) outcomes of `kind`;
    an appointment that has a row of that kind already keeps it."""
    for chunk in peewee.chunked(_record_rows(kind, now_utc, outcomes), 200):
        # Written out like the outbox's rows: the query builder costs more (SPEC P2).
        mail.insert_rows(Reminder, chunk, ' ON CONFLICT (appointment_id, kind) DO NOTHING')


def _existing(keys):
    return {key for (key,) in (OutboxMessage.select(OutboxMessage.dedupe_key)
                               .where(OutboxMessage.dedupe_key.in_(list(keys)))
                               .tuples()
                               .iterator())}


def _try_compose(settings, patient, day, kind, now_utc, key):
    """(message, None) or (None, reason): one bad record fails alone."""
    try:
        message = compose(settings, patient, day, now_utc, kind, key)
        mail.check_message(message)
        return message, None
    except Exception as exc:
        log.warning('a %s reminder could not be made (%s)', kind, type(exc).__name__)
        return None, f'could not be sent: {exc}'[:300]


def _queue(settings, batch, kind, now_utc, day_of):
    """Queue one message per (key, patient) of `batch` not in the outbox yet
    and record every visit's outcome; (queued, failed) counts."""
    done = _existing([key for key, _ in batch])
    todo, outcomes, failed = {}, [], 0
    for key, patient in batch:
        if key in done:
            # Reminded already: a visit without a row came after that email.
            outcomes += [(v.id, 'skipped', BOOKED_LATE, None) for v in patient.visits]
            continue
        message, error = _try_compose(settings, patient, day_of(patient), kind, now_utc, key)
        if error:
            outcomes += [(v.id, 'failed', error, None) for v in patient.visits]
            failed += len(patient.visits)
        else:
            todo[key] = (message, patient)
    inserted = mail.queue_messages([message for message, _ in todo.values()], now_utc)
    for message in inserted:
        visits = todo[message.dedupe_key][1].visits
        outcomes += [(v.id, 'pending', None, message.id) for v in visits]
    record(kind, now_utc, outcomes)
    return len(inserted), failed


def send_for_day(settings, day, clock=None, kind='same_day'):
    """Queue the `kind` reminders for clinic date `day` in the outbox, for
    the visits still ahead at `clock`'s now, and record every visit's
    outcome. Idempotent: a patient already reminded for `day` is skipped."""
    now = (clock or Clock(settings.tz)).now()
    now_utc = naive_utc(now)
    everyone, skipped = sort_out(recipients(day, settings.tz), now)
    queued = failed = 0
    for batch in peewee.chunked(everyone, PATIENTS_PER_BATCH):
        with database.atomic():
            keyed = [(dedupe_key(patient.id, day, kind), patient) for patient in batch]
            sent, bad = _queue(settings, keyed, kind, now_utc, lambda _: day)
        queued, failed = queued + sent, failed + bad
    if skipped:
        record(kind, now_utc, [(appt_id, 'skipped', reason, None) for appt_id, reason in skipped])
    return {'date': day.isoformat(), 'patients': len(everyone),
            'appointments': sum(len(p.visits) for p in everyone), 'queued': queued,
            'started': sum(1 for _, reason in skipped if reason == STARTED),
            **({'kind': kind} if kind != 'same_day' else {}),
            **({'failed': failed} if failed else {})}


# Wall-time slack around the hours_before window: a DST change moves wall
# time by up to an hour against the instants; the exact test is in Python.
DST_SLACK = datetime.timedelta(hours=1)


def _wall_window(first, last):
    """Rows whose (date, time) wall time lies between aware `first` and `last`."""
    low, high = first.replace(tzinfo=None), last.replace(tzinfo=None)
    after = (Appointment.date > low.date()) | (Appointment.time >= f'{low:%H:%M}')
    before = (Appointment.date < high.date()) | (Appointment.time <= f'{high:%H:%M}')
    return Appointment.date.between(low.date(), high.date()) & after & before


def hours_before_due(settings, now):
    """Visits starting within REMINDER_HOURS_BEFORE of `now` (aware) with no
    hours_before row yet, by patient. One query on the (date, status) index
    and the (appointment, kind) index of the rows: cheap when nothing is due."""
    # In UTC: aware arithmetic in a zone with DST adds wall time, not hours.
    tz, now = settings.tz, now.astimezone(UTC)
    horizon = now + datetime.timedelta(hours=settings.reminder_hours_before)
    window = _wall_window((now - DST_SLACK).astimezone(tz), (horizon + DST_SLACK).astimezone(tz))
    rows = (_select(*_columns())
            .join(Reminder, peewee.JOIN.LEFT_OUTER,
                  on=((Reminder.appointment == Appointment.id)
                      & (Reminder.kind == 'hours_before')))
            .where(window,
                   Appointment.status.in_(('booked', 'cancelled')),
                   Reminder.id.is_null(),
                   Patient.active == True)  # noqa: E712
            .order_by(Appointment.patient, Appointment.date, Appointment.time, Appointment.id)
            .tuples())
    return [dataclasses.replace(p, visits=[v for v in p.visits
                                           if v.starts.astimezone(UTC) <= horizon])
            for p in _grouped(rows, tz)]


def send_hours_before(settings, clock=None):
    """The every-minute pass: one email per visit that starts within
    REMINDER_HOURS_BEFORE hours, if it was booked before its reminder was
    due; every visit in the window gets its row once. Off when unset."""
    if not settings.reminder_hours_before:
        return {'kind': 'hours_before', 'skipped': 'off'}
    now = (clock or Clock(settings.tz)).now()
    now_utc = naive_utc(now)
    lead = datetime.timedelta(hours=settings.reminder_hours_before)
    todo, skipped = [], []
    for patient in hours_before_due(settings, now):
        for visit in patient.visits:
            reason = why_not(patient, visit, now)
            due = naive_utc(visit.starts.astimezone(UTC) - lead)
            if reason is None and visit.created_at and visit.created_at > due:
                reason = BOOKED_LATE
            if reason:
                skipped.append((visit.id, 'skipped', reason, None))
            else:
                todo.append((visit_key(visit), dataclasses.replace(patient, visits=[visit])))
    queued = failed = 0
    for batch in peewee.chunked(todo, PATIENTS_PER_BATCH):
        with database.atomic():
            sent, bad = _queue(settings, batch, 'hours_before', now_utc,
                                  lambda patient: patient.visits[0].starts.date())
        queued, failed = queued + sent, failed + bad
    record('hours_before', now_utc, skipped)
    return {'kind': 'hours_before', 'queued': queued, 'skipped': len(skipped), 'failed': failed}


def nice_day(day):
    return f'{day:%A} {day.day} {day:%B %Y}'


def subject_for(patient, day):
    if len(patient.visits) == 1:
        visit = patient.visits[0]
        return f'Reminder: your appointment on {day:%a} {day.day} {day:%b} at {visit.time}'
    return f'Reminder: your {len(patient.visits)} appointments on {day:%a} {day.day} {day:%b}'


def compose(settings, patient, day, now_utc, kind='same_day', key=None):
    """The outbox message (queue_messages form) reminding `patient`. Only
    the doctor, day and time of each visit: never its reason or record."""
    for visit in patient.visits:
        visit.links = reminder_links.urls(settings, visit.id, patient.id, visit.starts)
    link = unsubscribe_url(settings, patient.id)
    context = {'name': patient.name, 'visits': patient.visits, 'day': nice_day(day),
               'clinic_name': settings.clinic_name, 'clinic_address': settings.clinic_address,
               'clinic_phone': settings.clinic_phone, 'unsubscribe_url': link}
    filename = 'appointment.ics' if len(patient.visits) == 1 else 'appointments.ics'
    return {
        'dedupe_key': key or dedupe_key(patient.id, day, kind),
        'to': patient.email,
        'subject': subject_for(patient, day),
        'text': render_email('mail/reminder.txt', **context),
        'html': render_email('mail/reminder.html', **context),
        'attachments': [(filename, ics.CONTENT_TYPE,
                         ics.calendar(settings, patient.visits, now_utc))],
        'headers': {'List-Unsubscribe': f'<{link}>',
                    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click'},
    }


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
