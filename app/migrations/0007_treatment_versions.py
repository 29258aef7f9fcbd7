"""Amended visits keep their earlier versions (SPEC §9).

No rows are copied: versions begin at a visit's first amendment, which
keeps the record it replaces as version 1. So an existing visit needs none
until then, and neither do the visits demo-data writes in bulk."""
from peewee import DateTimeField, ForeignKeyField, IntegerField, Model, TextField


class Base(Model):
    class Meta:
        legacy_table_names = False


class User(Base):
    class Meta:
        table_name = 'user'


class Appointment(Base):
    class Meta:
        table_name = 'appointment'


class TreatmentVersion(Base):
    appointment = ForeignKeyField(Appointment, on_delete='CASCADE', backref='+')
    number = IntegerField()
    diagnosis = TextField()
    treatment = TextField()
    prescription = TextField(null=True)
    recorded_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
    recorded_at = DateTimeField()

    class Meta:
        indexes = ((('appointment', 'number'), True),)


def up(migrator, db):
    TreatmentVersion.bind(db)
    db.create_tables([TreatmentVersion])
