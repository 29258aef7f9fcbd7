"""The audited actions of the web layer. Each helper does the action (or
follows it) and writes its one audit entry, so a JSON route and its HTML form
twin call the same helper and the action is recorded once either way.

Which reads count as viewing a patient's record (one entry per request):
- a doctor or admin opening one appointment: GET /api/appointments/<id> and
  the doctor's visit page /doctor/appointments/<id>;
- a doctor or admin listing appointments filtered to one patient (patient_id
  on GET /api/appointments or on /admin): that list is the patient's history.
Lists that are not about one patient (a doctor's day, the admin's lists by
date, doctor or status, the patients' directory) write nothing: one entry per
page load for every patient on it would bury the record views. A patient
reading their own record writes nothing either.
"""
import bottle

from app import auth, validate
from app.db import database
from app.errors import ApiError
from app.models import User
from app.services import appointments, audit
from app.web.base import client_ip, clock, current_session, current_user

STAFF = ('doctor', 'admin')


def note(action, subject_patient_id=None, target=None, actor=None):
    """Record `action` by `actor` (default: who is logged in) from this
    request's client address."""
    audit.record(action, actor or current_user(), subject_patient_id, target, client_ip())


def _appointment(appt):
    return f'appointment:{appt.id}'


# ---- logging in and out ---------------------------------------------------------

def authenticate(email, password):
    """auth.authenticate plus a 'login' or 'login.failed' entry. A throttled
    attempt (429) never reaches the password check and writes nothing."""
    try:
        user = auth.authenticate(email, password, client_ip())
    except ApiError as exc:
        if exc.status == 401:
            _failed_login(email)
        raise
    note('login', actor=user)
    return user


def _failed_login(email):
    account = User.by_email(email)
    if account is None:
        audit.record('login.failed', None, ip=client_ip())
        return
    patient_id = account.id if account.role == 'patient' else None
    audit.record('login.failed', None, patient_id, f'user:{account.id}', client_ip())


def end_session():
    session = current_session()
    if session is not None:
        note('logout', actor=session.user)
    auth.end_session(bottle.request.get_cookie(auth.SESSION_COOKIE))


# ---- reading a patient's record ---------------------------------------------------

def view_appointment(user, appointment_id):
    appt = appointments.get_for(user, appointment_id)
    if user.role in STAFF:
        note('appointment.view', appt.patient.id, _appointment(appt), actor=user)
    return appt


def list_appointments(user, filters, limit, offset):
    """appointments.list_for; a staff list of one patient's appointments is
    a view of that patient's history."""
    total, items = appointments.list_for(user, filters, limit, offset)
    patient_id = validate.identifier(filters, 'patient_id', required=False)
    if patient_id and user.role in STAFF and (
            User.select().where(User.id == patient_id, User.role == 'patient').exists()):
        note('history.view', patient_id, f'patient:{patient_id}', actor=user)
    return total, items


# ---- changing it ------------------------------------------------------------------
# The entry is written in the change's own transaction: a change without
# its entry (or an entry without its change) cannot be committed.

def _changed(user, action, change):
    with database.atomic():
        appt = change()
        note(action, appt.patient.id, _appointment(appt), actor=user)
    return appt


def book(user, data):
    return _changed(user, 'appointment.book', lambda: appointments.book(clock(), user, data))


def cancel(user, appointment_id):
    return _changed(user, 'appointment.cancel',
                    lambda: appointments.cancel(user, appointment_id))


def complete(user, appointment_id, data):
    return _changed(user, 'treatment.record',
                    lambda: appointments.complete(clock(), user, appointment_id, data))


def no_show(user, appointment_id):
    return _changed(user, 'appointment.no_show',
                    lambda: appointments.mark_no_show(clock(), user, appointment_id))


# ---- files with patient data ------------------------------------------------------

def export_created(export, created):
    """A second click that gets the running export back is no new export."""
    if created:
        note('export.create', export.patient_id, f'export:{export.task_id}')


def export_downloaded(export):
    if bottle.request.method != 'HEAD':
        note('export.download', export.patient_id, f'export:{export.task_id}')


def monthly_report_viewed(report_id):
    # The report lists the doctor's patients with their diagnoses; it is
    # about many patients, so it has no single subject.
    note('monthly_report.view', None, f'monthly_report:{report_id}')


def report_file_downloaded(execution_id):
    if bottle.request.method != 'HEAD':
        note('report_file.download', None, f'report_execution:{execution_id}')


# A sent email can carry the same data: a monthly report's HTML part, an
# export's CSV. Its recipient is not necessarily the patient it is about.

def outbox_message_viewed(message_id):
    note('outbox_message.view', None, f'outbox_message:{message_id}')


def outbox_attachment_downloaded(attachment_id):
    if bottle.request.method != 'HEAD':
        note('outbox_attachment.download', None, f'outbox_attachment:{attachment_id}')
