"""Several reminders and their record (SPEC §11): a row per (appointment,
kind), the time a patient confirmed a visit from a reminder, and the .ics
SEQUENCE a move bumps. Existing appointments start unconfirmed at 0."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, SQL


class Base(Model):
    class Meta:
        legacy_table_names = False


class Appointment(Base):
    class Meta:
        table_name = 'appointment'


class OutboxMessage(Base):
    class Meta:
        table_name = 'outbox_message'


class Reminder(Base):
    appointment = ForeignKeyField(Appointment, on_delete='CASCADE', backref='+')
    kind = CharField(max_length=12)
    status = CharField(max_length=10)
    reason = CharField(max_length=300, null=True)
    at = DateTimeField()
    message = ForeignKeyField(OutboxMessage, null=True, on_delete='SET NULL', backref='+')

    class Meta:
        indexes = ((('appointment', 'kind'), True),)


def up(migrator, db):
    Reminder.bind(db)
    db.create_tables([Reminder])
    migrator.migrate(
        migrator.add_column('appointment', 'confirmed_at', DateTimeField(null=True)),
        migrator.add_column('appointment', 'ics_sequence',
                            IntegerField(default=0, constraints=[SQL('DEFAULT 0')])),
    )
