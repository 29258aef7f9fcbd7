"""The clinic calendar (SPEC §8): doctors' weekly hours and visit length,
time off and closures; an appointment's length, cancel reason, where it was
moved from and when the patient checked in; where an audited move went.

Doctors who exist already get the clinic's default week (Monday to Friday,
09:00-17:00, 30-minute visits), as a new doctor does. Existing appointments
keep their start; their length is the 30 minutes every slot had before."""
from peewee import (SQL, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField,
                    Model)


class Base(Model):
    class Meta:
        legacy_table_names = False


class User(Base):
    class Meta:
        table_name = 'user'


class WorkingHours(Base):
    doctor = ForeignKeyField(User, on_delete='CASCADE', backref='+')
    weekday = IntegerField()
    start = CharField(max_length=5)
    end = CharField(max_length=5)

    class Meta:
        indexes = ((('doctor', 'weekday'), False),)


class TimeOff(Base):
    doctor = ForeignKeyField(User, null=True, on_delete='CASCADE', backref='+')
    start_date = DateField()
    end_date = DateField()
    start_time = CharField(max_length=5, null=True)
    end_time = CharField(max_length=5, null=True)
    reason = CharField(max_length=200, null=True)
    created_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    created_at = DateTimeField()

    class Meta:
        indexes = ((('end_date', 'start_date'), False),)


DEFAULT_WEEK = [(weekday, '09:00', '17:00') for weekday in range(5)]


def up(migrator, db):
    WorkingHours.bind(db)
    TimeOff.bind(db)
    db.create_tables([WorkingHours, TimeOff])
    migrator.migrate(
        migrator.add_column('user', 'slot_minutes', IntegerField(
            default=30, constraints=[SQL('DEFAULT 30')])),
        migrator.add_column('appointment', 'minutes', IntegerField(
            default=30, constraints=[SQL('DEFAULT 30')])),
        migrator.add_column('appointment', 'cancel_reason', CharField(max_length=500, null=True)),
        migrator.add_column('appointment', 'rescheduled_from_date', DateField(null=True)),
        migrator.add_column('appointment', 'rescheduled_from_time',
                            CharField(max_length=5, null=True)),
        migrator.add_column('appointment', 'checked_in_at', DateTimeField(null=True)),
        migrator.add_column('audit_event', 'detail', CharField(max_length=80, null=True)),
    )
    doctors = [row[0] for row in db.execute_sql(
        'SELECT id FROM "user" WHERE role = %s' % db.param, ('doctor',)).fetchall()]
    rows = [{'doctor': doctor, 'weekday': weekday, 'start': start, 'end': end}
            for doctor in doctors for weekday, start, end in DEFAULT_WEEK]
    for at in range(0, len(rows), 500):
        WorkingHours.insert_many(rows[at:at + 500]).execute()
