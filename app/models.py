"""Peewee models. Ids are the users' ids: a doctor's id and a patient's id are
the id of their User row, so the API's `doctor_id` / `patient_id` need no
second lookup table."""
import datetime
import json

import peewee as pw

from app.db import database

APPOINTMENT_STATUSES = ('booked', 'completed', 'cancelled', 'no_show')


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class JSONTextField(pw.TextField):
    """A JSON value kept in a TEXT column, the same type on SQLite and
    PostgreSQL (peewee's JSONField is JSONB on PostgreSQL)."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Claimable(BaseModel):
    """The claim columns of a ledger row some worker takes to run (see
    app.workers): who runs it, and how many times it was claimed, which
    fences a run taken for dead out of the final write."""
    owner = pw.CharField(max_length=120, null=True)  # host:pid:token, None while unclaimed
    attempts = pw.IntegerField(default=0)


class User(BaseModel):
    # A walk-in may have no email. Unique where present: SQLite and
    # PostgreSQL both let a unique index hold any number of NULLs.
    email = pw.CharField(max_length=254, unique=True, null=True)
    password_hash = pw.CharField(max_length=255)
    name = pw.CharField(max_length=200)
    phone = pw.CharField(max_length=40, null=True)
    role = pw.CharField(max_length=10, index=True)
    specialization = pw.CharField(max_length=120, null=True)
    reminders_enabled = pw.BooleanField(default=True)
    active = pw.BooleanField(default=True)
    # A doctor's normal visit length and the grid their slots start on.
    slot_minutes = pw.IntegerField(default=30, constraints=[pw.SQL('DEFAULT 30')])
    created_at = pw.DateTimeField(default=utcnow)
    date_of_birth = pw.DateField(null=True)

    def public(self):
        data = {'id': self.id, 'email': self.email, 'name': self.name, 'role': self.role}
        if self.role == 'doctor':
            data['specialization'] = self.specialization
        if self.role == 'patient':
            data['phone'] = self.phone
            data['date_of_birth'] = (self.date_of_birth.isoformat()
                                     if self.date_of_birth else None)
            data['reminders_enabled'] = self.reminders_enabled
        return data

    @classmethod
    def by_email(cls, email):
        if not email or not email.strip():
            return None  # never the accounts that have no email
        return cls.get_or_none(cls.email == email.strip().lower())

    @classmethod
    def doctors(cls):
        return (cls.select()
                .where(cls.role == 'doctor', cls.active == True)  # noqa: E712
                .order_by(cls.name, cls.id))


class PatientSearchTerm(BaseModel):
    """The words a patient is found by (app.services.patient_search): each
    word of the name and the email, folded to lower case without accents,
    and every tail of the phone's digits. A search is one prefix range per
    typed word on the (term, user) index."""
    term = pw.CharField(max_length=254)
    user = pw.ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')

    class Meta:
        indexes = ((('term', 'user'), True),)


class Session(BaseModel):
    """Server-side session; the cookie carries a random token, the table
    keeps only its SHA-256 so a leaked database cannot be replayed. It ends
    at `expires_at` (login + SESSION_MAX_HOURS) or SESSION_IDLE_MINUTES after
    `last_seen_at`, which is moved at most once a minute (app.auth)."""
    token_hash = pw.CharField(max_length=64, primary_key=True)
    user = pw.ForeignKeyField(User, on_delete='CASCADE', index=True)
    csrf_token = pw.CharField(max_length=64)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(index=True)
    last_seen_at = pw.DateTimeField()
    client_address = pw.CharField(max_length=64, null=True)
    user_agent = pw.CharField(max_length=300, null=True)


class PasswordLink(BaseModel):
    """A single-use link that sets a password: an invitation (new staff, a
    walk-in patient with an email) or a reset. Only the token's SHA-256 is
    kept; `password_mark` ties it to the password the account had when it
    was issued, so any later password change voids it."""
    token_hash = pw.CharField(max_length=64, primary_key=True)
    user = pw.ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')
    purpose = pw.CharField(max_length=10)  # invite / reset
    password_mark = pw.CharField(max_length=64)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)


class LoginThrottle(BaseModel):
    """Login tries counted for throttling (app.services.login_throttle): one
    row per (account email, client address), and one per client address
    alone with account ''."""
    account = pw.CharField(max_length=254)
    address = pw.CharField(max_length=45)
    tries = pw.IntegerField(default=0)
    last_try_at = pw.DateTimeField()
    delayed_until = pw.DateTimeField(null=True)

    class Meta:
        primary_key = pw.CompositeKey('account', 'address')


class TwoFactor(BaseModel):
    """A staff member's TOTP secret (app.services.two_factor): pending until
    a first code confirms it. `last_step` is the newest 30-second step a code
    was accepted for, so each code works once (RFC 6238 §5.2)."""
    user = pw.ForeignKeyField(User, primary_key=True, on_delete='CASCADE', backref='+')
    secret = pw.CharField(max_length=64)
    created_at = pw.DateTimeField(default=utcnow)
    confirmed_at = pw.DateTimeField(null=True)
    last_step = pw.BigIntegerField(null=True)


class RecoveryCode(BaseModel):
    """One of the ten single-use codes given at confirmation; only a keyed
    hash is kept."""
    user = pw.ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')
    code_hash = pw.CharField(max_length=64, unique=True)
    used_at = pw.DateTimeField(null=True)


class PendingLogin(BaseModel):
    """A correct password waiting for its second factor: the login form's
    second step finds it by a short-lived cookie, so the password is not
    sent twice. Only the cookie token's SHA-256 is kept."""
    token_hash = pw.CharField(max_length=64, primary_key=True)
    user = pw.ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')
    expires_at = pw.DateTimeField(index=True)


class Appointment(BaseModel):
    patient = pw.ForeignKeyField(User, backref='appointments', on_delete='CASCADE')
    doctor = pw.ForeignKeyField(User, backref='schedule', on_delete='CASCADE')
    date = pw.DateField()
    time = pw.CharField(max_length=5)  # HH:MM clinic time; sorts as text
    status = pw.CharField(max_length=10, default='booked')
    reason = pw.TextField(null=True)
    # A database default too: rows written by plain SQL (demo data, restores
    # of older archives) are 30-minute visits, as every visit was before.
    minutes = pw.IntegerField(default=30, constraints=[pw.SQL('DEFAULT 30')])
    cancel_reason = pw.CharField(max_length=500, null=True)
    # Where it was before its latest move; its history is in the audit trail.
    rescheduled_from_date = pw.DateField(null=True)
    rescheduled_from_time = pw.CharField(max_length=5, null=True)
    checked_in_at = pw.DateTimeField(null=True)
    # Set by the patient's Confirm link in a reminder (SPEC §11).
    confirmed_at = pw.DateTimeField(null=True)
    # The .ics SEQUENCE: bumped on every move so calendar apps move the event.
    ics_sequence = pw.IntegerField(default=0, constraints=[pw.SQL('DEFAULT 0')])
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (('doctor', 'date', 'time'), False),
            (('patient', 'date', 'time'), False),
            (('date', 'status'), False),
            # The orders of the lists (app.services.appointments.list_for).
            (('date', 'time'), False),
            (('status', 'date', 'time'), False),
        )


# One booked appointment per doctor (and per patient) per slot, enforced by
# the database so two concurrent bookings cannot both win.
Appointment.add_index(
    Appointment.index(Appointment.doctor, Appointment.date, Appointment.time,
                      unique=True, name='appointment_doctor_slot_booked')
    .where(Appointment.status == 'booked'))
Appointment.add_index(
    Appointment.index(Appointment.patient, Appointment.date, Appointment.time,
                      unique=True, name='appointment_patient_slot_booked')
    .where(Appointment.status == 'booked'))


class WorkingHours(BaseModel):
    """One range of a doctor's week, in clinic wall time; a day with two
    ranges has a break between them."""
    doctor = pw.ForeignKeyField(User, backref='working_hours', on_delete='CASCADE')
    weekday = pw.IntegerField()  # 0 = Monday .. 6 = Sunday
    start = pw.CharField(max_length=5)  # HH:MM
    end = pw.CharField(max_length=5)

    class Meta:
        indexes = ((('doctor', 'weekday'), False),)

    # The clinic's week for a doctor nobody has set hours for (SPEC §8).
    DEFAULT = tuple((weekday, '09:00', '17:00') for weekday in range(5))

    @classmethod
    def give_defaults(cls, doctor_ids):
        rows = [{'doctor': doctor_id, 'weekday': weekday, 'start': start, 'end': end}
                for doctor_id in doctor_ids for weekday, start, end in cls.DEFAULT]
        if rows:
            cls.insert_many(rows).execute()


class TimeOff(BaseModel):
    """Days (or hours on each of those days) when one doctor, or with no
    doctor the whole clinic, takes no bookings."""
    doctor = pw.ForeignKeyField(User, null=True, backref='time_off', on_delete='CASCADE')
    start_date = pw.DateField()
    end_date = pw.DateField()
    start_time = pw.CharField(max_length=5, null=True)
    end_time = pw.CharField(max_length=5, null=True)
    reason = pw.CharField(max_length=200, null=True)
    created_by = pw.ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('end_date', 'start_date'), False),)


class Treatment(BaseModel):
    appointment = pw.ForeignKeyField(Appointment, unique=True, backref='treatments',
                                     on_delete='CASCADE')
    diagnosis = pw.TextField()
    treatment = pw.TextField()
    prescription = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    def public(self):
        return {'diagnosis': self.diagnosis, 'treatment': self.treatment,
                'prescription': self.prescription}


class TreatmentVersion(BaseModel):
    """The versions of an amended visit record, the current one included,
    numbered from 1. Rows begin at the first amendment, which keeps the
    record it replaces as version 1: a visit never amended has its one
    version in Treatment (see app.services.treatments)."""
    appointment = pw.ForeignKeyField(Appointment, backref='treatment_versions',
                                     on_delete='CASCADE')
    number = pw.IntegerField()
    diagnosis = pw.TextField()
    treatment = pw.TextField()
    prescription = pw.TextField(null=True)
    recorded_by = pw.ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    recorded_at = pw.DateTimeField(default=utcnow)

    class Meta:
        # Unique: of two amendments racing for one number, one is refused.
        indexes = ((('appointment', 'number'), True),)


class OutboxMessage(BaseModel):
    """Every email is written here first, then delivered. `dedupe_key` makes
    a retried or duplicated job a no-op instead of a second email."""
    dedupe_key = pw.CharField(max_length=200, unique=True)
    to = pw.CharField(max_length=254)
    subject = pw.CharField(max_length=300)
    text_body = pw.TextField()
    html_body = pw.TextField(null=True)
    headers = JSONTextField(default=dict)  # extra headers, {name: value}
    status = pw.CharField(max_length=10, default='pending', index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow, index=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    sent_at = pw.DateTimeField(null=True)
    error = pw.TextField(null=True)
    # A delivery run claims a batch (status 'sending') before it connects,
    # so two runs never send one message; see app.mail.
    claimed_by = pw.CharField(max_length=120, null=True)
    claimed_at = pw.DateTimeField(null=True)


class Reminder(BaseModel):
    """What became of one kind of reminder for one appointment (SPEC §11):
    the answer to "why wasn't this patient reminded?". A queued reminder
    points at its message, whose delivery gives sent, pending or failed; a
    reminder never queued is skipped or failed here with its reason. The
    unique pair is what makes each kind at most once per appointment, and
    the index the minute-by-minute hours_before pass probes."""
    appointment = pw.ForeignKeyField(Appointment, backref='reminders', on_delete='CASCADE')
    kind = pw.CharField(max_length=12)      # same_day / day_before / hours_before
    status = pw.CharField(max_length=10)    # pending (queued) / failed / skipped
    reason = pw.CharField(max_length=300, null=True)
    at = pw.DateTimeField(default=utcnow)
    message = pw.ForeignKeyField(OutboxMessage, null=True, on_delete='SET NULL', backref='+')

    class Meta:
        indexes = ((('appointment', 'kind'), True),)


class OutboxAttachment(BaseModel):
    message = pw.ForeignKeyField(OutboxMessage, backref='attachments', on_delete='CASCADE')
    filename = pw.CharField(max_length=200)
    content_type = pw.CharField(max_length=100)
    content = pw.BlobField()


class JobRun(Claimable):
    """Ledger of periodic job slots: one row per (job, slot). It drives
    catch-up after downtime and keeps a second run of a slot from working
    twice."""
    job = pw.CharField(max_length=100)
    slot = pw.CharField(max_length=40)  # e.g. 2026-11-22 or 2026-10
    status = pw.CharField(max_length=10, default='running')  # running/success/partial/failed
    started_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)
    error = pw.TextField(null=True)
    detail = JSONTextField(null=True)

    class Meta:
        indexes = ((('job', 'slot'), True),)


class MonthlyReport(BaseModel):
    doctor = pw.ForeignKeyField(User, backref='monthly_reports', on_delete='CASCADE')
    month = pw.CharField(max_length=7)  # YYYY-MM
    booked = pw.IntegerField(default=0)
    completed = pw.IntegerField(default=0)
    cancelled = pw.IntegerField(default=0)
    no_show = pw.IntegerField(default=0)
    patients = pw.IntegerField(default=0)
    html = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('doctor', 'month'), True),)


class Export(Claimable):
    """One history export. The owner decides who may see the Huey task id."""
    task_id = pw.CharField(max_length=64, unique=True)
    requester = pw.ForeignKeyField(User, backref='exports', on_delete='CASCADE')
    scope = pw.CharField(max_length=10)  # 'patient' or 'all'
    patient = pw.ForeignKeyField(User, null=True, on_delete='CASCADE')
    status = pw.CharField(max_length=10, default='queued', index=True)
    rows = pw.IntegerField(null=True)
    file_name = pw.CharField(max_length=200, null=True)
    file_size = pw.BigIntegerField(null=True)
    error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    finished_at = pw.DateTimeField(null=True)
    started_at = pw.DateTimeField(null=True)
    expired_at = pw.DateTimeField(null=True)  # file deleted by the cleanup


class ScheduledReport(BaseModel):
    """An admin-defined report (SPEC §4). `next_run_at` (naive UTC) is when
    the scheduler next takes it; it is moved forward when a slot is claimed,
    so a failing run never holds the schedule back."""
    name = pw.CharField(max_length=120)
    kind = pw.CharField(max_length=20)
    frequency = pw.CharField(max_length=10)
    weekday = pw.IntegerField(null=True)  # 0 = Monday .. 6 = Sunday (weekly)
    day = pw.IntegerField(null=True)      # 1..31 (monthly)
    time = pw.CharField(max_length=5)     # HH:MM clinic time
    recipients = JSONTextField()          # list of addresses
    format = pw.CharField(max_length=4)
    subject = pw.CharField(max_length=200, null=True)
    body = pw.TextField(null=True)
    active = pw.BooleanField(default=True)
    next_run_at = pw.DateTimeField(null=True, index=True)
    created_by = pw.ForeignKeyField(User, null=True, on_delete='SET NULL')
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class ReportExecution(Claimable):
    """One run of a report. A scheduled run carries `slot` (the period it
    covers); the unique (report, slot) pair is the exactly-once ledger.
    Manual and test runs have no slot."""
    report = pw.ForeignKeyField(ScheduledReport, backref='executions', on_delete='CASCADE')
    slot = pw.CharField(max_length=40, null=True)
    triggered_by = pw.CharField(max_length=10)  # schedule / manual / test
    requested_by = pw.ForeignKeyField(User, null=True, on_delete='SET NULL')
    task_id = pw.CharField(max_length=64, unique=True)
    status = pw.CharField(max_length=10, default='running', index=True)
    period_start = pw.DateField()
    period_end = pw.DateField()
    created_at = pw.DateTimeField(default=utcnow)
    started_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)
    row_count = pw.IntegerField(null=True)
    error = pw.TextField(null=True)
    file_name = pw.CharField(max_length=200, null=True)
    file_size = pw.BigIntegerField(null=True)
    recipients = JSONTextField(null=True)  # list: who this run mails
    # True while some of its mail is neither sent nor failed; the outcome
    # (success or partial) is settled when the outbox has decided.
    mail_pending = pw.BooleanField(default=False, index=True)

    class Meta:
        indexes = ((('report', 'slot'), True),)


class WorkerHeartbeat(BaseModel):
    """Written every few seconds by each running consumer."""
    worker = pw.CharField(max_length=100, primary_key=True)  # host:pid
    token = pw.CharField(max_length=16, null=True)  # tells a restarted pid from the dead one
    beat_at = pw.DateTimeField(index=True)
    started_at = pw.DateTimeField(default=utcnow)
    periodic = pw.BooleanField(default=True)


class PeriodicJobState(BaseModel):
    """Who paused or resumed a periodic job, and when: the record behind the
    pause flag the scheduler reads in the queue (app.pausable_huey), copied
    back to the queue whenever a consumer starts."""
    name = pw.CharField(max_length=100, primary_key=True)
    paused = pw.BooleanField(default=False)
    changed_at = pw.DateTimeField(default=utcnow)
    changed_by = pw.CharField(max_length=254, null=True)


class TaskFailure(BaseModel):
    """A task that failed for good (no retries left), with what it takes to
    run it again: Huey's own records keep neither its arguments nor, for
    periodic tasks, the traceback."""
    task_id = pw.CharField(max_length=64, unique=True)
    task = pw.CharField(max_length=200)  # Huey registry name, e.g. tasks.export_history
    arguments = pw.BlobField(null=True)  # (args, kwargs) in Huey's serializer
    error = pw.TextField()
    traceback = pw.TextField(null=True)
    failed_at = pw.DateTimeField(default=utcnow, index=True)
    retried_at = pw.DateTimeField(null=True)


class Incident(BaseModel):
    """Something the clinic is alerted about (SPEC §11): a job failing,
    overdue, a failed backup, mail refused. Open while `resolved_at` is
    NULL; a partial unique index keeps one open incident per (job, kind),
    so of two workers noticing the same trouble only one opens it (and
    mails it). `detail` names what went wrong, never a patient."""
    job = pw.CharField(max_length=100)
    kind = pw.CharField(max_length=20)  # failing / overdue / backup_failed / mail_failing
    detail = pw.CharField(max_length=300)
    opened_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True, index=True)
    # NULL on a resolved incident: it closed itself when the job succeeded.
    resolved_by = pw.ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')


Incident.add_index(
    Incident.index(Incident.job, Incident.kind, unique=True, name='incident_open_once')
    .where(Incident.resolved_at.is_null()))


class FailureStreak(BaseModel):
    """How many runs of a task failed in a row; the row goes when one succeeds."""
    job = pw.CharField(max_length=100, primary_key=True)
    failures = pw.IntegerField(default=0)
    last_failed_at = pw.DateTimeField(default=utcnow)


class AuditEvent(BaseModel):
    """Who read or changed which patient's data, and logins (app.services.audit).
    References only: never a password, token, medical text or file content.
    A deleted user leaves the row in place with the reference emptied."""
    at = pw.DateTimeField(default=utcnow, index=True)
    actor = pw.ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    actor_role = pw.CharField(max_length=10, null=True)
    action = pw.CharField(max_length=40)
    subject_patient = pw.ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    target = pw.CharField(max_length=80, null=True)  # e.g. appointment:12
    ip = pw.CharField(max_length=45, null=True)
    detail = pw.CharField(max_length=80, null=True)  # a move: '<from> -> <to>'

    class Meta:
        indexes = (
            (('subject_patient', 'at'), False),
            (('actor', 'at'), False),
            (('action', 'at'), False),
        )


MODELS = [User, Session, PasswordLink, LoginThrottle, Appointment, WorkingHours, TimeOff,
          Treatment, TreatmentVersion, OutboxMessage, OutboxAttachment, JobRun, MonthlyReport,
          Export, ScheduledReport, ReportExecution, WorkerHeartbeat, PeriodicJobState,
          TaskFailure, AuditEvent, PatientSearchTerm, TwoFactor, RecoveryCode, PendingLogin,
          Incident, FailureStreak, Reminder]
