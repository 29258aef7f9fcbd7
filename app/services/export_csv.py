"""The history export file (SPEC §5): one row per appointment, oldest first,
UTF-8, RFC 4180 quoting, formula cells neutralised, streamed from a database
cursor to a temp file that is renamed into place when complete."""
import peewee

from app.db import is_sqlite, streaming_cursor
from app.models import Appointment, Treatment, User
from app.services.csv_file import CHUNK_ROWS, FORMULA_STARTS, write_csv

HEADER = ('date', 'time', 'doctor', 'specialization', 'status', 'diagnosis',
          'treatment', 'prescription')
ALL_DATA_HEADER = ('patient_email', 'patient_name') + HEADER

Doctor = User.alias('doctor')
Patient = User.alias('patient')


FORMULA_CODES = [ord(char) for char in FORMULA_STARTS]


def guarded(column):
    """The column with csv_file's formula guard applied by the database: the
    rows then go from the cursor to the csv writer without a Python loop.
    The first character is compared as a code point (SQLite's unicode(),
    PostgreSQL's ascii(); both NULL or 0 for an empty cell): no substring is
    made per cell, which took a quarter of the export's read (SPEC §7 P1)."""
    first = peewee.fn.unicode(column) if is_sqlite() else peewee.fn.ascii(column)
    return peewee.Case(None, [(first.in_(FORMULA_CODES), peewee.Value("'").concat(column))],
                       column)


def export_query(scope, patient_id=None, guard=True):
    """One row per appointment, oldest first, in the SPEC §5 column order."""
    text = [Doctor.name, Doctor.specialization, Treatment.diagnosis, Treatment.treatment,
            Treatment.prescription]
    if scope == 'all':
        text = [Patient.email, Patient.name] + text
    wrap = guarded if guard else (lambda column: column)
    name, specialization, diagnosis, treatment, prescription = map(wrap, text[-5:])
    columns = [Appointment.date.cast('TEXT'), Appointment.time, name, specialization,
               Appointment.status, diagnosis, treatment, prescription]
    query = Appointment.select()
    if scope == 'all':
        columns = [wrap(Patient.email), wrap(Patient.name)] + columns
        query = (query
                 .join(Patient, on=(Appointment.patient == Patient.id))
                 .switch(Appointment))
    query = (query
             .select(*columns)
             .join(Doctor, on=(Appointment.doctor == Doctor.id))
             .switch(Appointment)
             .join(Treatment, peewee.JOIN.LEFT_OUTER, on=(Treatment.appointment == Appointment.id))
             .order_by(Appointment.date, Appointment.time, Appointment.id))
    if scope != 'all':
        query = query.where(Appointment.patient == patient_id)
    return query


def count_rows(scope, patient_id=None):
    query = Appointment.select()
    if scope != 'all':
        query = query.where(Appointment.patient == patient_id)
    return query.count()


def export_to_file(path, scope, patient_id=None, on_progress=None):
    """Write the export of `scope` to `path`; returns (rows, bytes).
    `on_progress(done, total)` is called every chunk."""
    total = count_rows(scope, patient_id)
    header = ALL_DATA_HEADER if scope == 'all' else HEADER
    progress = (lambda done: on_progress(done, total)) if on_progress else None
    cursor = streaming_cursor(export_query(scope, patient_id), CHUNK_ROWS)
    try:
        return write_csv(path, header, cursor, progress)
    finally:
        cursor.close()
