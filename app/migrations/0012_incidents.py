"""Incidents the clinic is alerted about, and the failure streaks that open them."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


class Base(Model):
    class Meta:
        legacy_table_names = False


class User(Base):
    class Meta:
        table_name = 'user'


class Incident(Base):
    job = CharField(max_length=100)
    kind = CharField(max_length=20)
    detail = CharField(max_length=300)
    opened_at = DateTimeField()
    resolved_at = DateTimeField(null=True, index=True)
    resolved_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')


Incident.add_index(
    Incident.index(Incident.job, Incident.kind, unique=True, name='incident_open_once')
    .where(Incident.resolved_at.is_null()))


class FailureStreak(Base):
    job = CharField(max_length=100, primary_key=True)
    failures = IntegerField()
    last_failed_at = DateTimeField()


def up(migrator, db):
    Incident.bind(db)
    FailureStreak.bind(db)
    db.create_tables([Incident, FailureStreak])
