"""Demo data (SPEC §6): deterministic, realistic, and gives every job work,
booked into each doctor's calendar (SPEC §8)."""
import collections
import datetime

import pytest

from app.auth import authenticate
from app.clock import fixed_clock
from app.db import database, init_database
from app.errors import ApiError
from app.migrations import apply_migrations
from app.models import Appointment, TimeOff, Treatment, User, WorkingHours
from app.services import calendar, demo_data
from app.settings import load
from tests.conftest import create_postgres_database, drop_postgres_database

# A Sunday, mid-morning: today's weekend weight is low, so the guaranteed
# appointments today are what the reminder job gets.
NOW = datetime.datetime(2026, 3, 15, 10, 0)
TODAY = NOW.date()
SIZE = {'doctors': 4, 'patients': 15, 'appointments': 300}

Doctor = User.alias('doctor')
Patient = User.alias('patient')


@pytest.fixture
def fresh_db(tmp_path, backend_env, own_db_template):
    """Open a new migrated database of the backend under test, in its own
    data dir, per call; afterwards the session's database is bound again."""
    previous = database.obj
    opened = []

    def open_db(name='data'):
        if opened:
            database.close()
        env = {'CLINIC_DATA_DIR': str(tmp_path / name)}
        if own_db_template:
            env['DATABASE_URL'] = create_postgres_database(backend_env['DATABASE_URL'], 'demo',
                                                           own_db_template)
        settings = load(env)
        init_database(settings.database_url)
        apply_migrations()
        opened.append(settings)
        return fixed_clock(settings.tz, NOW)

    yield open_db
    database.close()
    database.initialize(previous)
    if own_db_template:
        for settings in opened:
            drop_postgres_database(backend_env['DATABASE_URL'], settings.database_url)


def accounts():
    return [(user.email, user.name) for user in User.select().order_by(User.email)]


def appointments():
    query = (Appointment
             .select(Appointment, Doctor.email, Patient.email)
             .join(Doctor, on=(Appointment.doctor == Doctor.id)).switch(Appointment)
             .join(Patient, on=(Appointment.patient == Patient.id))
             .order_by(Appointment.date, Appointment.time, Doctor.email))
    return [(a.doctor.email, a.patient.email, a.date, a.time, a.status) for a in query]


def hours_and_time_off():
    hours = [(h.doctor.email, h.weekday, h.start, h.end) for h in
             WorkingHours.select(WorkingHours, User.email).join(User)
             .order_by(User.email, WorkingHours.weekday, WorkingHours.start)]
    time_off = [(entry.doctor_id, entry.start_date, entry.end_date, entry.reason)
                for entry in TimeOff.select().order_by(TimeOff.start_date)]
    return hours, time_off


def minutes(hhmm):
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def visits():
    """(doctor id, patient id, day, start minute, end minute, status)."""
    return [(a.doctor_id, a.patient_id, a.date, minutes(a.time), minutes(a.time) + a.minutes,
             a.status) for a in Appointment.select()]


def overlapping(intervals):
    """Pairs of (start, end) in one person's day that overlap."""
    ordered = sorted(intervals)
    return [(a, b) for a, b in zip(ordered, ordered[1:]) if b[0] < a[1]]


def test_demo_data_fills_the_counts_it_reports(fresh_db):
    counts = demo_data.generate(fresh_db(), seed=1, **SIZE)

    by_status = {status: Appointment.select().where(Appointment.status == status).count()
                 for status in ('booked', 'completed', 'cancelled', 'no_show')}
    assert counts == {'doctors': 4, 'patients': 15, 'appointments': 300, **by_status,
                      'treatments': by_status['completed']}
    assert User.select().where(User.role == 'doctor').count() == 4
    assert User.select().where(User.role == 'patient').count() == 15
    assert Appointment.select().count() == 300
    assert Treatment.select().count() == by_status['completed']
    assert User.by_email('doctor4@demo.clinic').specialization
    assert User.by_email('patient15@demo.clinic').phone
    assert User.by_email('reception1@demo.clinic').role == 'reception'


def test_same_seed_gives_the_same_data_and_another_seed_differs(fresh_db):
    demo_data.generate(fresh_db('first'), seed=7, **SIZE)
    first = accounts(), appointments(), hours_and_time_off()
    demo_data.generate(fresh_db('second'), seed=7, **SIZE)
    second = accounts(), appointments(), hours_and_time_off()
    demo_data.generate(fresh_db('third'), seed=8, **SIZE)
    third = accounts(), appointments(), hours_and_time_off()

    assert first == second
    assert first[0] != third[0]
    assert first[1] != third[1]


def test_no_one_is_in_two_places_at_once(fresh_db):
    # Fewer patients than doctors: the patients' diaries are the limit.
    counts = demo_data.generate(fresh_db(), seed=3, doctors=6, patients=4, appointments=2000)

    rows = visits()
    assert counts['appointments'] == len(rows) == 2000
    for who in (0, 1):
        days = collections.defaultdict(list)
        for row in rows:
            days[row[who], row[2]].append(row[3:5])
        assert not [pair for day in days.values() for pair in overlapping(day)]


def test_visits_start_on_the_doctors_grid_inside_their_hours(fresh_db):
    demo_data.generate(fresh_db(), seed=5, doctors=8, patients=60, appointments=1500)

    doctors = {d.id: d for d in User.select().where(User.role == 'doctor')}
    hours = collections.defaultdict(list)
    for r in WorkingHours.select():
        hours[r.doctor_id, r.weekday].append((minutes(r.start), minutes(r.end)))
    for doctor_id, _, day, start, end, _ in visits():
        assert end - start == doctors[doctor_id].slot_minutes
        [(low, high)] = [r for r in hours[doctor_id, day.weekday()] if r[0] <= start < r[1]]
        assert end <= high and (start - low) % doctors[doctor_id].slot_minutes == 0


def test_doctors_have_varied_weeks_and_the_clinic_some_time_off(fresh_db):
    demo_data.generate(fresh_db(), seed=1, doctors=8, patients=60, appointments=1500)

    days_worked = collections.defaultdict(set)
    ranges = collections.Counter()
    for r in WorkingHours.select():
        days_worked[r.doctor_id].add(r.weekday)
        ranges[r.doctor_id, r.weekday] += 1
    assert any(len(days) == 5 for days in days_worked.values())
    assert any(len(days) <= 3 for days in days_worked.values())
    assert any(count == 2 for count in ranges.values()), 'nobody has a lunch break'
    assert len({d.slot_minutes for d in User.select().where(User.role == 'doctor')}) >= 3

    next_monday = TODAY + datetime.timedelta(days=7 - TODAY.weekday())
    [leave] = TimeOff.select().where(TimeOff.doctor.is_null(False))
    assert (leave.start_date, leave.end_date) == (next_monday,
                                                 next_monday + datetime.timedelta(days=6))
    [holiday] = TimeOff.select().where(TimeOff.doctor.is_null())
    assert TODAY < holiday.start_date <= TODAY + datetime.timedelta(days=21)

    on_leave = Appointment.select().where(Appointment.doctor == leave.doctor_id,
                                          Appointment.date.between(leave.start_date,
                                                                   leave.end_date))
    closed = Appointment.select().where(Appointment.date == holiday.start_date)
    assert not on_leave.exists() and not closed.exists()


def test_jobs_have_work_today_next_days_and_last_month(fresh_db):
    demo_data.generate(fresh_db(), seed=1, **SIZE)
    rows = appointments()

    assert sum(1 for *_, day, _, status in rows if day == TODAY and status == 'booked') >= 3
    next_week = [day for *_, day, _, status in rows
                 if status == 'booked' and TODAY < day <= TODAY + datetime.timedelta(days=7)]
    assert len(set(next_week)) >= 2
    assert all(status in ('completed', 'cancelled', 'no_show')
               for *_, day, _, status in rows if day < TODAY)
    assert all(status in ('booked', 'cancelled') for *_, day, _, status in rows if day > TODAY)
    assert min(day for *_, day, _, _ in rows) <= TODAY - datetime.timedelta(days=110)
    assert max(day for *_, day, _, _ in rows) <= TODAY + datetime.timedelta(days=21)

    last_month = (Appointment
                  .select(Appointment, Treatment)
                  .join(Treatment, on=(Treatment.appointment == Appointment.id))
                  .where(Appointment.date.between(datetime.date(2026, 2, 1),
                                                  datetime.date(2026, 2, 28))))
    assert last_month.count() >= 10
    assert all(row.status == 'completed' and row.treatment.diagnosis
               for row in last_month)


def test_demo_doctor_can_log_in_with_the_demo_password(fresh_db):
    demo_data.generate(fresh_db(), seed=1, doctors=2, patients=3, appointments=20,
                       password='another-pass-9')

    user = authenticate('doctor1@demo.clinic', 'another-pass-9')
    assert user.role == 'doctor'
    assert (User.select(User.password_hash).distinct().count()) == 1


def test_running_twice_refuses_and_changes_nothing(fresh_db):
    clock = fresh_db()
    demo_data.generate(clock, seed=1, doctors=2, patients=3, appointments=20)
    before = appointments()

    with pytest.raises(ApiError) as error:
        demo_data.generate(clock, seed=2, doctors=2, patients=3, appointments=20)

    assert error.value.status == 409
    assert 'already' in error.value.message
    assert appointments() == before


def test_the_calendar_accepts_every_coming_demo_visit_where_it_is(fresh_db, tmp_path):
    clock = fresh_db()
    demo_data.generate(clock, seed=2, doctors=8, patients=60, appointments=1500)
    settings = load({'CLINIC_DATA_DIR': str(tmp_path / 'rules')})
    soon = clock.now() + datetime.timedelta(minutes=settings.booking_notice_minutes)

    coming = [appt for appt in Appointment.select().where(Appointment.status == 'booked',
                                                          Appointment.date >= TODAY)
              if datetime.datetime.combine(appt.date, datetime.time.fromisoformat(appt.time),
                                           tzinfo=settings.tz) > soon]
    assert len(coming) >= 50
    for appt in coming:
        # Raises the refusal (outside hours, off grid, time off, taken) if any.
        calendar.check_start(settings, clock, appt.doctor, appt.patient_id, appt.date,
                             appt.time, appt.minutes, exclude_id=appt.id)


def test_the_tables_keep_every_index_they_had(fresh_db):
    clock = fresh_db()
    before = {table: database.get_indexes(table) for table in ('appointment', 'treatment')}
    demo_data.generate(clock, seed=1, **SIZE)

    after = {table: database.get_indexes(table) for table in ('appointment', 'treatment')}
    assert after == before
    assert any(index.unique for index in after['appointment'])
