"""SPEC §7 P3: monthly reports for 50 doctors and 100,000 appointments in the
month, all rendered and queued in at most 10 s, with SQL queries that grow
with doctors, not with appointments.

Fills a temporary SQLite database (50 doctors, 2,000 patients; 100,000
appointments in one month, ~70% completed with a treatment, and 10,000 in
the month after), then times the report job for each month and counts its
queries: the counts must be equal although the rows differ tenfold.

    python bench/monthly_reports_p3.py [--appointments N] [--doctors N]
"""
import argparse
import datetime
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huey.storage import MemoryStorage  # noqa: E402
from playhouse.test_utils import count_queries  # noqa: E402

from app.db import database, init_database  # noqa: E402
from app.migrations import apply_migrations  # noqa: E402
from app.models import Appointment, MonthlyReport, OutboxMessage, Treatment, User  # noqa: E402
from app.queue import huey  # noqa: E402
from app.services import monthly_reports  # noqa: E402
from app.settings import load  # noqa: E402

BAR_SECONDS = 10.0
PATIENTS = 2000
DIAGNOSES = ('Seasonal influenza', 'Lower back pain', 'Hypertension, follow-up',
             'Migraine without aura', 'Contact dermatitis', 'Sprained ankle')
TREATMENTS = ('Rest, fluids, paracetamol', 'Physiotherapy twice a week',
              'Amlodipine 5 mg daily', 'Sumatriptan as needed', 'Topical corticosteroid',
              'RICE protocol, strapping')


def fill_month(rng, month, appointments, doctor_ids, patient_ids):
    first, last = monthly_reports.month_range(month)
    days = (last - first).days + 1
    rows, treatments = [], []
    next_id = (Appointment.select(Appointment.id).order_by(Appointment.id.desc()).scalar() or 0) + 1
    for n in range(appointments):
        doctor = doctor_ids[n % len(doctor_ids)]
        slot = n // len(doctor_ids)  # this doctor's n-th appointment: unique day and time
        day = first + datetime.timedelta(days=slot % days)
        at = 7 * 60 + (slot // days) * 5
        status = rng.choices(('completed', 'cancelled', 'no_show', 'booked'), (70, 12, 8, 10))[0]
        # Consecutive n share a day and time across doctors: distinct patients.
        rows.append((next_id, patient_ids[n % len(patient_ids)], doctor, day,
                     f'{at // 60:02d}:{at % 60:02d}', status))
        if status == 'completed':
            treatments.append((next_id, rng.choice(DIAGNOSES), rng.choice(TREATMENTS)))
        next_id += 1
    fields = [Appointment.id, Appointment.patient, Appointment.doctor, Appointment.date,
              Appointment.time, Appointment.status]
    for start in range(0, len(rows), 2000):
        Appointment.insert_many(rows[start:start + 2000], fields=fields).execute()
    for start in range(0, len(treatments), 2000):
        Treatment.insert_many(treatments[start:start + 2000],
                              fields=[Treatment.appointment, Treatment.diagnosis,
                                      Treatment.treatment]).execute()
    return len(treatments)


def fill(settings, doctors, months):
    init_database(settings.database_url)
    apply_migrations()
    rng = random.Random(7)
    with database.connection_context(), database.atomic():
        User.insert_many([{'email': f'doctor{n}@bench.test', 'password_hash': '-',
                           'name': f'Doctor {n}', 'role': 'doctor',
                           'specialization': 'General practice'}
                          for n in range(doctors)]).execute()
        User.insert_many([{'email': f'patient{n}@bench.test', 'password_hash': '-',
                           'name': f'Patient {n}', 'role': 'patient'}
                          for n in range(PATIENTS)]).execute()
        doctor_ids = [i for (i,) in User.select(User.id).where(User.role == 'doctor').tuples()]
        patient_ids = [i for (i,) in User.select(User.id).where(User.role == 'patient').tuples()]
        return {month: fill_month(rng, month, count, doctor_ids, patient_ids)
                for month, count in months.items()}


def run(settings, month):
    with count_queries() as queries:
        started = time.perf_counter()
        result = monthly_reports.build_month(settings, month)
        elapsed = time.perf_counter() - started
    return elapsed, queries.count, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--appointments', type=int, default=100_000)
    parser.add_argument('--doctors', type=int, default=50)
    args = parser.parse_args()
    huey.storage = MemoryStorage('bench')  # the delivery request only needs somewhere to go

    big, small = '2026-10', '2026-11'
    months = {big: args.appointments, small: args.appointments // 10}
    with tempfile.TemporaryDirectory(prefix='reports-bench-') as data_dir:
        settings = load({'CLINIC_DATA_DIR': data_dir, 'SECRET_KEY': 'bench-secret-key-0123456789'})
        completed = fill(settings, args.doctors, months)
        with database.connection_context():
            figures = {month: run(settings, month) for month in (big, small)}
            html = (MonthlyReport.select(MonthlyReport.html).where(MonthlyReport.month == big)
                    .tuples())
            size = sum(len(h) for (h,) in html)
            mails = OutboxMessage.select().where(OutboxMessage.dedupe_key.startswith('monthly:'))
            queued = mails.count()
    for month in (big, small):
        elapsed, queries, result = figures[month]
        print(f'{month}: {args.doctors} doctors, {months[month]:,} appointments '
              f'({completed[month]:,} completed): rendered and queued {result["created"]} reports '
              f'in {elapsed:.2f} s with {queries} SQL queries')
    print(f'{queued} report emails queued; {size / 1e6:.1f} MB of report HTML for {big}')
    elapsed, queries_big = figures[big][:2]
    queries_small = figures[small][1]
    grows = 'no' if queries_big == queries_small else 'YES'
    ok = elapsed <= BAR_SECONDS and queries_big == queries_small
    print(f'P3: {elapsed:.2f} s / {BAR_SECONDS:.0f} s = {elapsed / BAR_SECONDS:.2f} '
          f'(bar: <= 1.00); '
          f'queries grow with appointments: {grows} -> {"PASS" if ok else "FAIL"}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
