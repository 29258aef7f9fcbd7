"""The rows of a report: one query per kind and period, read as a stream.

Each kind is a title, its columns and a query. The rows come from a raw
database cursor (a server-side one on PostgreSQL), so a 100,000-row report
never sits in memory; the writers (report_writers) turn the same rows into
CSV, XLSX or PDF. A Deadline is checked while rows are read: thread workers
cannot have Huey's task timeout enforced, so a run stops itself.
"""
import dataclasses
import time

import peewee
from peewee import fn

from app.db import streaming_cursor
from app.models import Appointment, Treatment, User

CHECK_EVERY = 500   # rows between two deadline checks
CURSOR_ROWS = 2000  # rows per fetch from a server-side cursor

Doctor = User.alias('doctor')
Patient = User.alias('patient')


class ReportTimeout(Exception):
    """The run went past its deadline and was stopped."""


class Deadline:
    def __init__(self, seconds, clock=time.monotonic):
        self.clock = clock
        self.seconds = seconds
        self.at = clock() + seconds

    def check(self):
        if self.clock() > self.at:
            minutes = self.seconds / 60
            limit = f'{minutes:g} minutes' if minutes >= 1 else f'{self.seconds:g} s'
            raise ReportTimeout(f'stopped: the run took longer than {limit}')


@dataclasses.dataclass(frozen=True)
class Column:
    label: str
    width: float = 1.0      # share of the page width in the PDF
    numeric: bool = False


@dataclasses.dataclass
class ReportData:
    title: str
    columns: tuple
    rows: object            # iterator of tuples, one per row

    @property
    def header(self):
        return [column.label for column in self.columns]

    def close(self):
        close = getattr(self.rows, 'close', None)
        if close is not None:
            close()


APPOINTMENT_COLUMNS = (Column('date', 0.9), Column('time', 0.55), Column('patient', 1.6),
                       Column('doctor', 1.6), Column('specialization', 1.4),
                       Column('status', 0.9))
ACTIVITY_COLUMNS = (Column('doctor', 2.0), Column('specialization', 1.6),
                    Column('booked', 0.8, True), Column('completed', 0.9, True),
                    Column('cancelled', 0.9, True), Column('no_show', 0.8, True),
                    Column('total', 0.7, True), Column('patients', 0.8, True))
TREATMENT_COLUMNS = (Column('date', 0.9), Column('time', 0.55), Column('patient', 1.3),
                     Column('doctor', 1.3), Column('diagnosis', 1.8),
                     Column('treatment', 1.8), Column('prescription', 1.6))


def _in_period(start, end):
    return (Appointment.date >= start) & (Appointment.date <= end)


def appointments_query(start, end):
    return (Appointment
            .select(Appointment.date.cast('TEXT'), Appointment.time, Patient.name,
                    Doctor.name, Doctor.specialization, Appointment.status)
            .join(Patient, on=(Appointment.patient == Patient.id))
            .switch(Appointment)
            .join(Doctor, on=(Appointment.doctor == Doctor.id))
            .where(_in_period(start, end))
            .order_by(Appointment.date, Appointment.time, Appointment.id))


def _count_of(status):
    return fn.SUM(peewee.Case(None, [(Appointment.status == status, 1)], 0))


def activity_query(start, end):
    """One row per doctor: active doctors, and former ones with activity."""
    total = fn.COUNT(Appointment.id)
    return (Doctor
            .select(Doctor.name, Doctor.specialization,
                    fn.COALESCE(_count_of('booked'), 0), fn.COALESCE(_count_of('completed'), 0),
                    fn.COALESCE(_count_of('cancelled'), 0), fn.COALESCE(_count_of('no_show'), 0),
                    total, fn.COUNT(Appointment.patient.distinct()))
            .join(Appointment, peewee.JOIN.LEFT_OUTER,
                  on=((Appointment.doctor == Doctor.id) & _in_period(start, end)))
            .where(Doctor.role == 'doctor')
            .group_by(Doctor.id, Doctor.name, Doctor.specialization, Doctor.active)
            .having((Doctor.active == True) | (total > 0))  # noqa: E712
            .order_by(Doctor.name, Doctor.id))


def treatments_query(start, end):
    return (Appointment
            .select(Appointment.date.cast('TEXT'), Appointment.time, Patient.name,
                    Doctor.name, Treatment.diagnosis, Treatment.treatment,
                    Treatment.prescription)
            .join(Treatment, on=(Treatment.appointment == Appointment.id))
            .switch(Appointment)
            .join(Patient, on=(Appointment.patient == Patient.id))
            .switch(Appointment)
            .join(Doctor, on=(Appointment.doctor == Doctor.id))
            .where(_in_period(start, end))
            .order_by(Appointment.date, Appointment.time, Appointment.id))


KINDS = {
    'appointments': ('Appointments', APPOINTMENT_COLUMNS, appointments_query),
    'doctor_activity': ('Doctor activity', ACTIVITY_COLUMNS, activity_query),
    'treatments': ('Treatment log', TREATMENT_COLUMNS, treatments_query),
}


def _stream(query, deadline):
    # The query runs on the first row asked for, and its cursor is closed
    # however the reading ends: a statement left open on SQLite keeps an old
    # snapshot, and the connection's next write fails as "database is locked".
    cursor = streaming_cursor(query, CURSOR_ROWS)
    try:
        for count, row in enumerate(cursor, start=1):
            if deadline is not None and count % CHECK_EVERY == 0:
                deadline.check()
            yield row
    finally:
        cursor.close()


def build(kind, start, end, deadline=None):
    """The report of `kind` for clinic dates `start`..`end` (inclusive).
    Read its rows once, then close() it (also when writing failed)."""
    title, columns, query = KINDS[kind]
    if deadline is not None:
        deadline.check()
    return ReportData(title, columns, _stream(query(start, end), deadline))
