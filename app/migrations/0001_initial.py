"""The schema as first released: a frozen copy of the models of that
release. Defaults computed in Python (timestamps, flags) are not part of the
schema, so the copy leaves them out."""
from peewee import (BigIntegerField, BlobField, BooleanField, CharField, DateField,
                    DateTimeField, ForeignKeyField, IntegerField, Model, TextField)


class Base(Model):
    class Meta:
        legacy_table_names = False


class User(Base):
    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    name = CharField(max_length=200)
    phone = CharField(max_length=40, null=True)
    role = CharField(max_length=10, index=True)
    specialization = CharField(max_length=120, null=True)
    reminders_enabled = BooleanField()
    active = BooleanField()
    created_at = DateTimeField()


class Session(Base):
    token_hash = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')
    csrf_token = CharField(max_length=64)
    created_at = DateTimeField()
    expires_at = DateTimeField(index=True)


class LoginFailure(Base):
    key = CharField(max_length=300, index=True)
    at = DateTimeField(index=True)


class Appointment(Base):
    patient = ForeignKeyField(User, on_delete='CASCADE', backref='+')
    doctor = ForeignKeyField(User, on_delete='CASCADE', backref='+')
    date = DateField()
    time = CharField(max_length=5)
    status = CharField(max_length=10)
    reason = TextField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        indexes = (
            (('doctor', 'date', 'time'), False),
            (('patient', 'date', 'time'), False),
            (('date', 'status'), False),
        )


Appointment.add_index(
    Appointment.index(Appointment.doctor, Appointment.date, Appointment.time,
                      unique=True, name='appointment_doctor_slot_booked')
    .where(Appointment.status == 'booked'))
Appointment.add_index(
    Appointment.index(Appointment.patient, Appointment.date, Appointment.time,
                      unique=True, name='appointment_patient_slot_booked')
    .where(Appointment.status == 'booked'))


class Treatment(Base):
    appointment = ForeignKeyField(Appointment, unique=True, on_delete='CASCADE', backref='+')
    diagnosis = TextField()
    treatment = TextField()
    prescription = TextField(null=True)
    created_at = DateTimeField()


class OutboxMessage(Base):
    dedupe_key = CharField(max_length=200, unique=True)
    to = CharField(max_length=254)
    subject = CharField(max_length=300)
    text_body = TextField()
    html_body = TextField(null=True)
    headers = TextField()
    status = CharField(max_length=10, index=True)
    attempts = IntegerField()
    next_attempt_at = DateTimeField(index=True)
    created_at = DateTimeField(index=True)
    sent_at = DateTimeField(null=True)
    error = TextField(null=True)
    claimed_by = CharField(max_length=120, null=True)
    claimed_at = DateTimeField(null=True)


class OutboxAttachment(Base):
    message = ForeignKeyField(OutboxMessage, on_delete='CASCADE', backref='+')
    filename = CharField(max_length=200)
    content_type = CharField(max_length=100)
    content = BlobField()


class JobRun(Base):
    job = CharField(max_length=100)
    slot = CharField(max_length=40)
    status = CharField(max_length=10)
    started_at = DateTimeField()
    finished_at = DateTimeField(null=True)
    error = TextField(null=True)
    detail = TextField(null=True)
    owner = CharField(max_length=120, null=True)
    attempts = IntegerField()

    class Meta:
        indexes = ((('job', 'slot'), True),)


class MonthlyReport(Base):
    doctor = ForeignKeyField(User, on_delete='CASCADE', backref='+')
    month = CharField(max_length=7)
    booked = IntegerField()
    completed = IntegerField()
    cancelled = IntegerField()
    no_show = IntegerField()
    patients = IntegerField()
    html = TextField()
    created_at = DateTimeField()

    class Meta:
        indexes = ((('doctor', 'month'), True),)


class Export(Base):
    task_id = CharField(max_length=64, unique=True)
    requester = ForeignKeyField(User, on_delete='CASCADE', backref='+')
    scope = CharField(max_length=10)
    patient = ForeignKeyField(User, null=True, on_delete='CASCADE', backref='+')
    status = CharField(max_length=10, index=True)
    rows = IntegerField(null=True)
    file_name = CharField(max_length=200, null=True)
    file_size = BigIntegerField(null=True)
    error = TextField(null=True)
    created_at = DateTimeField(index=True)
    finished_at = DateTimeField(null=True)
    worker = CharField(max_length=100, null=True)
    worker_token = CharField(max_length=32, null=True)
    attempt = IntegerField()
    started_at = DateTimeField(null=True)
    expired_at = DateTimeField(null=True)


class ScheduledReport(Base):
    name = CharField(max_length=120)
    kind = CharField(max_length=20)
    frequency = CharField(max_length=10)
    weekday = IntegerField(null=True)
    day = IntegerField(null=True)
    time = CharField(max_length=5)
    recipients = TextField()
    format = CharField(max_length=4)
    subject = CharField(max_length=200, null=True)
    body = TextField(null=True)
    active = BooleanField()
    next_run_at = DateTimeField(null=True, index=True)
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    created_at = DateTimeField()
    updated_at = DateTimeField()


class ReportExecution(Base):
    report = ForeignKeyField(ScheduledReport, on_delete='CASCADE', backref='+')
    slot = CharField(max_length=40, null=True)
    triggered_by = CharField(max_length=10)
    requested_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    task_id = CharField(max_length=64, unique=True)
    status = CharField(max_length=10, index=True)
    period_start = DateField()
    period_end = DateField()
    created_at = DateTimeField()
    started_at = DateTimeField()
    finished_at = DateTimeField(null=True)
    row_count = IntegerField(null=True)
    error = TextField(null=True)
    file_name = CharField(max_length=200, null=True)
    file_size = BigIntegerField(null=True)
    attempts = IntegerField()
    owner = CharField(max_length=120, null=True)
    recipients = TextField(null=True)
    mail_pending = BooleanField(index=True)

    class Meta:
        indexes = ((('report', 'slot'), True),)


class WorkerHeartbeat(Base):
    worker = CharField(max_length=100, primary_key=True)
    beat_at = DateTimeField(index=True)
    started_at = DateTimeField()
    periodic = BooleanField()


class PeriodicJobState(Base):
    name = CharField(max_length=100, primary_key=True)
    paused = BooleanField()
    changed_at = DateTimeField()
    changed_by = CharField(max_length=254, null=True)


class TaskFailure(Base):
    task_id = CharField(max_length=64, unique=True)
    task = CharField(max_length=200)
    arguments = BlobField(null=True)
    error = TextField()
    traceback = TextField(null=True)
    failed_at = DateTimeField(index=True)
    retried_at = DateTimeField(null=True)


class AuditEvent(Base):
    at = DateTimeField(index=True)
    actor = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    actor_role = CharField(max_length=10, null=True)
    action = CharField(max_length=40)
    subject_patient = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    target = CharField(max_length=80, null=True)
    ip = CharField(max_length=45, null=True)

    class Meta:
        indexes = (
            (('subject_patient', 'at'), False),
            (('actor', 'at'), False),
            (('action', 'at'), False),
        )


class SchemaVersion(Base):
    version = IntegerField()
    applied_at = DateTimeField()


TABLES = [User, Session, LoginFailure, Appointment, Treatment, OutboxMessage, OutboxAttachment,
          JobRun, MonthlyReport, Export, ScheduledReport, ReportExecution, WorkerHeartbeat,
          PeriodicJobState, TaskFailure, AuditEvent, SchemaVersion]


def up(migrator, db):
    with db.bind_ctx(TABLES):
        db.create_tables(TABLES, safe=False)
