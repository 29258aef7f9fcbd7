"""The appointment list (SPEC §6 paging) costs the same few queries on any
page, deep ones included, and reads the table through its indexes: the
admin's list stays flat as a clinic's history grows (the bench measures it
at a million appointments)."""
import datetime
import uuid

from playhouse.test_utils import count_queries

from app.db import database, is_sqlite
from app.models import Appointment, User
from app.services import accounts
from app.services.appointments import list_for
from tests.client import Client
from tests.conftest import PASSWORD, ServerThread
from tests.sql_log import statements

FIRST = datetime.date(2031, 3, 3)
STATUSES = ('completed', 'cancelled', 'no_show', 'booked')


def person(role):
    return User.create(email=f'{role}-{uuid.uuid4().hex[:10]}@example.test', password_hash='-',
                       name=f'List {role}', role=role)


def history(visits):
    """`visits` appointments over a few doctors, patients, days and statuses."""
    doctors = [person('doctor') for _ in range(3)]
    patients = [person('patient') for _ in range(7)]
    rows = [{'doctor': doctors[n % 3].id, 'patient': patients[n % 7].id,
             'date': FIRST + datetime.timedelta(days=n // 12),
             'time': f'{9 + (n % 12) // 2:02d}:{30 * (n % 2):02d}',
             'status': STATUSES[n % 4] if n % 12 else 'booked'} for n in range(visits)]
    for chunk in range(0, len(rows), 500):
        Appointment.insert_many(rows[chunk:chunk + 500]).execute()
    return doctors, patients


def listed(admin, filters, limit, offset):
    with count_queries() as counter:
        total, items = list_for(admin, filters, limit, offset)
        names = [(a.doctor.name, a.patient.name) for a in items]
    assert len(names) == len(items)
    return total, items, counter.count


def expected(conditions, descending):
    query = Appointment.select(Appointment.id).where(*conditions) if conditions else \
        Appointment.select(Appointment.id)
    rows = sorted(((a.date, a.time, a.id) for a in query.select(
        Appointment.id, Appointment.date, Appointment.time)), reverse=descending)
    return [row[2] for row in rows]


def test_every_page_is_exact_in_order_and_costs_the_same_queries(own_db):
    doctors, _ = history(600)
    admin = person('admin')
    seen = set()
    for filters, conditions in (({}, []),
                                ({'order': 'desc'}, []),
                                ({'status': 'completed'}, [Appointment.status == 'completed']),
                                ({'doctor_id': str(doctors[1].id), 'order': 'desc'},
                                 [Appointment.doctor == doctors[1].id])):
        ids = expected(conditions, filters.get('order') == 'desc')
        for limit, offset in ((5, 0), (100, 0), (100, 450), (50, len(ids) - 10), (10, len(ids))):
            total, items, queries = listed(admin, filters, limit, offset)
            assert total == len(ids)
            assert [a.id for a in items] == ids[offset:offset + limit], (filters, limit, offset)
            seen.add(queries)
    # A count, the page's ids, its rows (none to read past the end).
    assert seen == {2, 3}, f'queries per page: {sorted(seen)}'


def test_the_count_and_the_page_are_read_from_indexes(own_db):
    history(300)
    admin = person('admin')
    with statements() as seen:
        list_for(admin, {'order': 'desc'}, 100, 200)
        list_for(admin, {'status': 'booked'}, 100, 0)
    reads = [(sql, params) for sql, params in seen
             if 'FROM "appointment"' in sql and 'JOIN' not in sql]
    assert len(reads) == 4, reads
    for sql, params in reads:
        assert 'COUNT(*)' in sql or 'ORDER BY' in sql
        if is_sqlite():
            plan = ' | '.join(row[-1] for row in
                              database.execute_sql('EXPLAIN QUERY PLAN ' + sql, params))
            assert 'TEMP B-TREE' not in plan and 'INDEX' in plan, (sql, plan)


def test_the_admin_page_takes_as_many_queries_for_a_long_history_as_a_short_one(own_db):
    email = f'admin-{uuid.uuid4().hex[:8]}@example.test'
    accounts.create_or_reset_admin(email, PASSWORD)
    from app.factory import create_app
    server = ServerThread(create_app(own_db)).start()
    try:
        admin = Client(server.url).login(email, PASSWORD)
        admin.get('/admin')  # session and cached figures read once

        def page_queries():
            with count_queries() as counter:
                resp = admin.get('/admin')
            assert resp.status == 200
            return counter.count, resp.text.count('<tr')

        history(10)
        short, short_rows = page_queries()
        history(400)
        long, long_rows = page_queries()
    finally:
        server.stop()
    assert long_rows > short_rows
    assert long == short, f'{long} queries with 410 appointments, {short} with 10'
