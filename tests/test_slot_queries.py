"""The slot search (SPEC §8): a month of one doctor's slots costs the same
few queries however many visits there are, and each is answered from an
index, never by reading the whole appointment table."""
import datetime
import uuid

from playhouse.test_utils import assert_query_count

from app.clock import UTC, fixed_clock
from app.db import database, is_sqlite
from app.models import Appointment, TimeOff, User
from app.services import calendar
from tests.conftest import TEST_WEEK, set_week
from tests.sql_log import statements

NOW = fixed_clock(UTC, datetime.datetime(2026, 6, 1, 7, 0))
FIRST = NOW.today()
LAST = FIRST + datetime.timedelta(days=30)
# Hours, time off, booked visits of the doctor (and the patient): one each.
QUERIES = 3


def person(role):
    return User.create(email=f'{role}-{uuid.uuid4().hex[:10]}@example.test', password_hash='-',
                       name=f'Test {role}', role=role)


def busy_month(visits_per_day):
    """A doctor with a patient's visits on every day of the month (and a
    year of history before it), a clinic holiday and a half day off."""
    doctor, patient, other = person('doctor'), person('patient'), person('patient')
    set_week(doctor.id, TEST_WEEK)
    rows = []
    for n in range(-365, 31):
        day = FIRST + datetime.timedelta(days=n)
        for k in range(visits_per_day):
            rows.append({'doctor': doctor.id, 'patient': other.id, 'date': day,
                         'time': f'{9 + k // 2:02d}:{30 * (k % 2):02d}',
                         'status': 'booked' if n >= 0 else 'completed'})
        rows.append({'doctor': person('doctor').id if n == 0 else doctor.id, 'patient': patient.id,
                     'date': day, 'time': '16:30', 'status': 'booked' if n >= 0 else 'completed'})
    for chunk in range(0, len(rows), 500):
        Appointment.insert_many(rows[chunk:chunk + 500]).execute()
    TimeOff.create(doctor=None, start_date=FIRST + datetime.timedelta(days=10),
                   end_date=FIRST + datetime.timedelta(days=10), reason='Holiday')
    TimeOff.create(doctor=doctor.id, start_date=FIRST + datetime.timedelta(days=3),
                   end_date=FIRST + datetime.timedelta(days=3), start_time='12:00',
                   end_time='17:00')
    return doctor, patient


def month_of_slots(settings, doctor, patient, last=LAST):
    return calendar.free_slots(settings, NOW, doctor, FIRST, last, patient_id=patient.id)


def test_a_month_of_slots_takes_the_same_queries_as_a_day(own_db):
    doctor, patient = busy_month(visits_per_day=2)
    for last in (FIRST, LAST):
        for patient_id in (None, patient.id):
            with assert_query_count(QUERIES):
                calendar.free_slots(own_db, NOW, doctor, FIRST, last, patient_id=patient_id)

    more, patient = busy_month(visits_per_day=6)
    with assert_query_count(QUERIES):
        found = month_of_slots(own_db, more, patient)
    # Six visits fill 09:00-12:00 each day, the patient is busy at 16:30,
    # and day 3's afternoon and day 10 are off.
    assert found and all(datetime.time(12) <= s.time < datetime.time(16, 30) for s in found)
    assert {(s.date - FIRST).days for s in found} == set(range(31)) - {3, 10}


def test_the_booked_visits_are_read_by_person_and_date_index(own_db):
    doctor, patient = busy_month(visits_per_day=2)
    with statements() as seen:
        month_of_slots(own_db, doctor, patient)

    [(sql, params)] = [(sql, params) for sql, params in seen if 'FROM "appointment"' in sql]
    if is_sqlite():
        plan = [row[-1] for row in database.execute_sql('EXPLAIN QUERY PLAN ' + sql, params)]
        searches = [step for step in plan if step.startswith(('SEARCH', 'SCAN'))]
        assert len(searches) == 2, plan
        assert all(step.startswith('SEARCH') and 'date>? AND date<?' in step
                   for step in searches), plan
    else:
        plan, reads = postgres_reads(sql, params)
        assert len(reads) == 2, plan
        conditions = sorted(read.get('Index Cond', '') for read in reads)
        assert [condition.split(' = ')[0] for condition in conditions] == [
            '((doctor_id', '((patient_id'], plan
        assert all('date >=' in condition and 'date <=' in condition
                   for condition in conditions), plan


def postgres_reads(sql, params):
    """The plan, and its nodes that read the appointment table or one of its
    indexes. The planner may read a table this small whole whatever its
    indexes: with sequential scans priced out, the plan shows
    whether an index finds each half by person and date. ANALYZE gives the
    planner the figures autovacuum keeps in a running clinic."""
    database.execute_sql('ANALYZE appointment')
    with database.atomic():
        database.execute_sql('SET LOCAL enable_seqscan = off')
        [(plan,)] = database.execute_sql('EXPLAIN (FORMAT JSON) ' + sql, params).fetchall()
    reads, nodes = [], [plan[0]['Plan']]
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get('Plans', ()))
        if node.get('Relation Name') == 'appointment' or 'Index Name' in node:
            reads.append(node)
    return plan, [read for read in reads if read['Node Type'] != 'Bitmap Heap Scan']
