"""The history export file (SPEC §5): one row per appointment, oldest first,
UTF-8, RFC 4180 quoting, formula cells neutralised, streamed from a database
cursor to a temp file that is renamed into place when complete."""
import csv
import itertools
import os
import uuid

import peewee

from app.db import streaming_cursor
from app.models import Appointment, Treatment, User

HEADER = ('date', 'time', 'doctor', 'specialization', 'status', 'diagnosis',
          'treatment', 'prescription')
ALL_DATA_HEADER = ('patient_email', 'patient_name') + HEADER
# A cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = '=+-@\t\r'
CHUNK_ROWS = 2000

Doctor = User.alias('doctor')
Patient = User.alias('patient')


def guarded(column):
    """The column with the formula guard applied by the database: the rows
    then go from the cursor to the csv writer without a Python loop."""
    return peewee.Case(None, [(peewee.fn.SUBSTR(column, 1, 1).in_(list(FORMULA_STARTS)),
                               peewee.Value("'").concat(column))], column)


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


def write_csv(path, header, rows, on_progress=None):
    """Stream `rows` to `path` (temp file, fsync, atomic rename). Memory
    stays flat: rows are taken from the iterator a chunk at a time."""
    tmp = path.with_name(f'.{path.name}.{uuid.uuid4().hex[:8]}.tmp')
    count = 0
    rows = iter(rows)
    try:
        with open(tmp, 'w', newline='', encoding='utf-8') as fh:
            writer = csv.writer(fh, lineterminator='\r\n')
            writer.writerow(header)
            while True:
                chunk = list(itertools.islice(rows, CHUNK_ROWS))
                if not chunk:
                    break
                writer.writerows(chunk)
                count += len(chunk)
                if on_progress:
                    on_progress(count)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count, path.stat().st_size


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
