"""The front desk's day list reads the day in a fixed number of queries, so
a busy day (SPEC §9: 200 visits in <= 150 ms) costs no more round trips
than a quiet one: each row's patient and doctor come with the day's query."""
import datetime

from playhouse.test_utils import count_queries

from app.db import database
from app.models import Appointment, User
from app.services.patients import NO_PASSWORD
from tests.calendar_site import new_doctor, reception, site

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
# A Monday 08:10 clinic time in a year no other module uses.
NOW = datetime.datetime(2036, 9, 1, 8, 10, tzinfo=UTC)
QUIET, BUSY = NOW.date() + DAY, NOW.date() + 2 * DAY
EVERY_DAY = tuple((d, '09:00', '17:00') for d in range(7))


def fill(day, visits, doctors, patients):
    with database.connection_context():
        Appointment.insert_many([
            {'doctor': doctors[i % len(doctors)], 'patient': patients[i % len(patients)],
             'date': day, 'time': f'{9 + i // len(doctors):02d}:00', 'status': 'booked'}
            for i in range(visits)]).execute()


def patients(day, count):
    with database.connection_context():
        return [User.create(email=f'day-list-{day}-{i}@example.test', name=f'Day Patient {i}',
                            role='patient', password_hash=f'{NO_PASSWORD}{day}-{i}').id
                for i in range(count)]


def queries(desk, path, rows):
    with count_queries() as counter:
        resp = desk.get(path)
    assert resp.status == 200 and resp.text.count('id="appt-') == rows, resp
    return counter.count


def test_a_busy_day_list_takes_as_many_queries_as_a_quiet_one(settings):
    with site(settings, now=NOW) as server:
        doctors = [new_doctor(week=EVERY_DAY, name=f'Dr Queries {i}') for i in range(5)]
        fill(QUIET, 2, doctors, patients(QUIET, 2))
        fill(BUSY, 40, doctors, patients(BUSY, 20))
        desk = reception(server.url)
        desk.get('/reception')  # the session is read once, then cached
        quiet = queries(desk, f'/reception?date={QUIET}', 2)
        busy = queries(desk, f'/reception?date={BUSY}', 40)
    assert busy == quiet, f'{busy} queries for 40 visits, {quiet} for 2'
    assert 0 < busy <= 4, f'{busy} queries for the day list'
