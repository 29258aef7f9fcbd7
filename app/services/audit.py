"""The audit trail: who read or changed which patient's data, and who logged
in. There is one way to do each audited thing, and it writes the entry: the
service function that does it takes the acting user and the client's address
(`ip`, None without a request) and records; a change records in its own
transaction. The web layer only passes who and from where.

Where each entry is written:
- login, login.failed, logout: accounts.log_in / log_out;
- password.change: accounts.change_password (a wrong current password is a
  login.failed);
- login.unlock: login_throttle.clear (an admin clears an account's delay;
  target 'user:<id>');
- appointment.view, history.view: appointments.view (a doctor or admin
  opening one appointment), appointments.list_for (a doctor or admin listing
  one patient's appointments); a patient reading their own record and lists
  that are not about one patient write nothing;
- appointment.book / .cancel / .no_show / .check_in, treatment.record:
  appointments.book, cancel, mark_no_show, check_in, complete;
- treatment.amend: treatments.amend;
- export.create, export.download: exports.request_export, exports.download;
- monthly_report.view: monthly_reports.html_for;
- report_file.download: report_runs.download;
- outbox_message.view, outbox_attachment.download, outbox_message.resend:
  services.outbox;
- incident.resolve: services.incidents (target 'incident:<id>');
- patient.register, patient.update: services.patients (a walk-in, an edit
  of a patient's details by the desk or by the patient).
- staff.invite, staff.update: services.staff (target 'user:<id>').
- two_factor.enrol / .confirm / .disable / .recovery_code, login.failed_code:
  services.two_factor (target 'user:<id>').

A row is references only: when, who (user and role at that moment), a short
dotted action from ACTIONS, the patient it is about, the record it touched
('appointment:12', 'export:<task id>') and the client address. Never a
password, session or CSRF token, diagnosis, treatment, prescription, reason
or file content: `record` accepts no free text, so none can slip in.

Failed logins: the typed email is never stored (it may be a typo of someone
else's address, or a password typed into the wrong field). When it names an
existing account, the row points at that account: target 'user:<id>' and,
for a patient, the patient as subject, so they see the attempt.

Retention: rows are kept. Clinics usually have to show access records for
years, and a row is about 100 bytes; no housekeeping step deletes them.
"""
import datetime
import re

from peewee import JOIN

from app import validate
from app.clock import naive_utc
from app.models import AuditEvent, User, utcnow

# Action -> what it means, as the pages show it.
ACTIONS = {
    'login': 'Logged in',
    'login.failed': 'Failed login (wrong password)',
    'login.failed_code': 'Failed login (wrong two-factor code)',
    'login.unlock': 'Cleared a delay on failed logins',
    'logout': 'Logged out',
    'password.change': 'Changed their password',
    'appointment.view': 'Opened an appointment',
    'history.view': 'Listed the patient\'s appointments',
    'appointment.book': 'Booked an appointment',
    'appointment.cancel': 'Cancelled an appointment',
    'appointment.confirm': 'Confirmed an appointment from a reminder',
    'appointment.reschedule': 'Moved an appointment',
    'treatment.record': 'Recorded diagnosis and treatment',
    'treatment.amend': 'Amended a recorded visit',
    'appointment.no_show': 'Marked a no-show',
    'appointment.check_in': 'Checked a patient in',
    'export.create': 'Started a history export',
    'export.download': 'Downloaded an export',
    'monthly_report.view': 'Opened a monthly report',
    'report_file.download': 'Downloaded a scheduled report file',
    'outbox_message.view': 'Opened a sent email',
    'outbox_attachment.download': 'Downloaded an email attachment',
    'outbox_message.resend': 'Sent an uncertain or failed email again',
    'incident.resolve': 'Resolved an incident of the status page',
    'patient.register': 'Registered a walk-in patient',
    'patient.update': 'Edited the patient\'s details',
    'staff.invite': 'Invited a staff member (new account or a new link)',
    'staff.update': 'Changed a staff account (name or active)',
    'two_factor.enrol': 'Started two-factor enrolment',
    'two_factor.confirm': 'Turned two-factor on',
    'two_factor.disable': 'Turned two-factor off',
    'two_factor.recovery_code': 'Used a two-factor recovery code',
}
TARGET_RE = re.compile(r'[a-z_]{1,30}:[0-9A-Za-z-]{1,64}')
IP_RE = re.compile(r'[0-9A-Fa-f.:]{1,45}')
# The one structured note an entry may carry: where a visit moved from and to.
DETAIL_RE = re.compile(r'\d{4}-\d{2}-\d{2} \d{2}:\d{2} -> \d{4}-\d{2}-\d{2} \d{2}:\d{2}',
                       re.ASCII)

Actor = User.alias('actor')
Patient = User.alias('patient')


def record(action, actor, subject_patient_id=None, target=None, ip=None, at=None,
           detail=None):
    """Write one entry. `actor` is a User or None (nobody logged in)."""
    if action not in ACTIONS:
        raise ValueError(f'unknown audit action {action!r}')
    if target is not None and not TARGET_RE.fullmatch(target):
        raise ValueError(f'audit target must look like kind:id, not {target!r}')
    if detail is not None and not DETAIL_RE.fullmatch(detail):
        raise ValueError(f'audit detail must be "from -> to", not {detail!r}')
    return AuditEvent.create(
        at=at or utcnow(), action=action, target=target,
        actor=actor.id if actor else None, actor_role=actor.role if actor else None,
        subject_patient=subject_patient_id,
        ip=ip if ip and IP_RE.fullmatch(ip) else None, detail=detail)


def _query():
    return (AuditEvent
            .select(AuditEvent, Actor, Patient)
            .join(Actor, JOIN.LEFT_OUTER, on=(AuditEvent.actor == Actor.id), attr='actor_row')
            .switch(AuditEvent)
            .join(Patient, JOIN.LEFT_OUTER, on=(AuditEvent.subject_patient == Patient.id),
                  attr='patient_row')
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))


def _utc_start_of(day, tz):
    local = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
    return naive_utc(local)


def search(filters, tz):
    """Entries matching the raw query mapping (actor_id, patient_id, action,
    from, to as clinic-time dates, inclusive), newest first."""
    actor_id = validate.identifier(filters, 'actor_id', required=False)
    patient_id = validate.identifier(filters, 'patient_id', required=False)
    action = validate.choice(filters, 'action', tuple(ACTIONS), required=False)
    start = validate.date(filters, 'from', required=False)
    end = validate.date(filters, 'to', required=False)
    query = _query()
    if actor_id:
        query = query.where(AuditEvent.actor == actor_id)
    if patient_id:
        query = query.where(AuditEvent.subject_patient == patient_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if start:
        query = query.where(AuditEvent.at >= _utc_start_of(start, tz))
    if end:
        query = query.where(AuditEvent.at < _utc_start_of(end + datetime.timedelta(days=1), tz))
    return query


def about_patient(patient_id):
    """What others did with this patient's data (and failed logins to their
    account), newest first; the patient's own actions are left out."""
    return (_query()
            .where(AuditEvent.subject_patient == patient_id,
                   AuditEvent.actor.is_null() | (AuditEvent.actor != patient_id)))


def page(query, limit, offset):
    return query.count(), list(query.limit(limit).offset(offset))


def _person(row, role=None):
    if row is None or row.id is None:
        return None
    person = {'id': row.id, 'name': row.name}
    if role is not None:
        person['role'] = role
    return person


def to_json(event, clock):
    actor = getattr(event, 'actor_row', None)
    data = {'id': event.id, 'at': clock.iso(event.at),
            'actor': _person(actor, event.actor_role or (actor and actor.role)),
            'action': event.action,
            'patient': _person(getattr(event, 'patient_row', None)),
            'target': event.target, 'ip': event.ip}
    if event.detail:
        data['detail'] = event.detail  # a move: where from and where to
    return data


def to_patient_json(event, clock):
    """For the patient: who and what, without staff addresses."""
    data = to_json(event, clock)
    del data['ip'], data['patient']
    return data


def describe(action):
    return ACTIONS.get(action, action)
