"""The Confirm, Cancel and Reschedule links of a reminder (SPEC §11).

A token names one purpose, one appointment and its patient, and the instant
it stops working (the visit's start), signed with the app's secret key: no
table, no login. It is the authority for its one action; the patient acts
through the same services as when logged in (cut-off, calendar rules, the
audit trail), as themself. Any doubt about a token answers without a word
of the appointment it names.
"""
import dataclasses
import datetime
import re

from app.auth import sign, verify_signature
from app.clock import UTC
from app.db import database
from app.errors import ApiError, conflict
from app.models import Appointment, utcnow
from app.services import appointments, audit, calendar

PURPOSES = ('confirm', 'cancel', 'reschedule')
TOKEN_RE = re.compile(r'(confirm|cancel|reschedule)\.([0-9]{1,12})\.([0-9]{1,12})\.'
                      r'([0-9]{1,12})\.([A-Za-z0-9_-]{24})')
# How far ahead a reschedule link looks for the doctor's free times, and how
# many it offers: enough to choose from on a phone screen.
SLOT_DAYS = 14
SLOT_CHOICES = 8


@dataclasses.dataclass(frozen=True)
class Link:
    purpose: str
    appointment_id: int
    patient_id: int
    expires: int  # Unix time of the visit's start when the link was made


def _message(purpose, appointment_id, patient_id, expires):
    return f'reminder-link:{purpose}:{appointment_id}:{patient_id}:{expires}'


def token(settings, purpose, appointment_id, patient_id, starts):
    """The token for `purpose` on one appointment, valid until `starts` (aware)."""
    expires = int(starts.timestamp())
    signature = sign(settings.secret_key, _message(purpose, appointment_id, patient_id, expires))
    return f'{purpose}.{appointment_id}.{patient_id}.{expires}.{signature}'


def urls(settings, appointment_id, patient_id, starts):
    """{purpose: URL} of the three links of one visit."""
    return {purpose: settings.base_url + '/r/'
            + token(settings, purpose, appointment_id, patient_id, starts)
            for purpose in PURPOSES}


def parse(settings, raw):
    """The Link a token names, or ApiError: 400 malformed, 404 forged."""
    match = TOKEN_RE.fullmatch(raw or '')
    if match is None:
        raise ApiError(400, 'This link is incomplete. Open it again from the email, '
                            'in full, or call the clinic.')
    purpose, appointment_id, patient_id, expires, signature = match.groups()
    if not verify_signature(settings.secret_key,
                            _message(purpose, appointment_id, patient_id, expires), signature):
        raise ApiError(404, 'This link is not valid. Open it again from the email, '
                            'or call the clinic.')
    return Link(purpose, int(appointment_id), int(patient_id), int(expires))


def linked_appointment(link):
    """The appointment a link names, with doctor and patient, if it is still
    that patient's; else None."""
    return (appointments.of_patient(link.patient_id)
            .where(Appointment.id == link.appointment_id)
            .first())


def appointment_for(settings, clock, link):
    """The appointment of a genuine link (with doctor and patient), or
    ApiError: 404 when it is gone or no longer that patient's, 410 once
    the visit has started (by the link's time or the visit's own)."""
    appt = linked_appointment(link)
    if appt is None:
        raise ApiError(404, 'This link is not valid any more. Please call the clinic.')
    now = clock.now().astimezone(UTC)
    started = appointments.starts_at(settings, appt)
    if now >= datetime.datetime.fromtimestamp(link.expires, UTC) or now >= started:
        raise ApiError(410, 'This link has expired: the appointment it was for has started.')
    return appt


def confirm(clock, appt, ip=None):
    """The patient will come: record when they said so (once; again is fine)."""
    if appt.status != 'booked':
        raise conflict(f'this appointment is {appt.status.replace("_", "-")}; '
                       'there is nothing to confirm')
    if appt.confirmed_at:
        return appt
    with database.atomic():
        (Appointment.update(confirmed_at=clock.utcnow(), updated_at=utcnow())
         .where(Appointment.id == appt.id, Appointment.status == 'booked')
         .execute())
        audit.record('appointment.confirm', appt.patient, appt.patient.id,
                     f'appointment:{appt.id}', ip)
    appt.confirmed_at = clock.utcnow()
    return appt


def cancel(settings, clock, appt, ip=None):
    """Cancel as the patient: the cut-off and the audit of a patient's own cancel."""
    if appt.status == 'cancelled':
        raise conflict('this appointment is already cancelled')
    return appointments.cancel(settings, clock, appt.patient, appt.id, {}, ip)


def next_free(settings, clock, appt):
    """The doctor's next free starts for moving `appt`, soonest first."""
    today = clock.today()
    found = calendar.free_slots(settings, clock, appt.doctor, today,
                                today + datetime.timedelta(days=SLOT_DAYS - 1),
                                patient_id=appt.patient.id, exclude_id=appt.id,
                                minutes=appt.minutes)
    return found[:SLOT_CHOICES]


def reschedule(settings, clock, appt, day, time, ip=None):
    """Move as the patient, to a start the calendar allows."""
    return appointments.reschedule(settings, clock, appt.patient, appt.id,
                                   {'date': day, 'time': time}, ip)
