"""SPEC §8 over real HTTP: working hours, slots, time off and doctors who
leave, each endpoint answered for every role as SPEC §2 says (not logged in
401, wrong role 403, another user's record 404), on an app whose clock
stands at Monday 08:10."""
from urllib.parse import quote

import pytest

from app.db import database
from app.models import Appointment, TimeOff, User, WorkingHours
from tests.calendar_site import MONDAY, book, booked, day, new_doctor, people, row, site, \
    slot_times
from tests.conftest import create_user

EVERY_DAY = [{'weekday': d, 'start': '09:00', 'end': '17:00'} for d in range(7)]


@pytest.fixture(scope='module')
def clinic(settings):
    with site(settings) as server:
        yield server


@pytest.fixture(scope='module')
def world(clinic):
    """The people, one appointment each for the two patients (with 'their'
    doctor, next Monday), one time off per doctor and a clinic closure far
    ahead."""
    users = people(clinic.url)
    ids = {name: users[name].user['id'] for name in users if users[name].user}
    ids['own'] = booked(users['patient'], ids['doctor'], day(7), '10:00')['id']
    ids['other'] = booked(users['other_patient'], ids['other_doctor'], day(7), '11:00')['id']
    for doctor in ('doctor', 'other_doctor'):
        entry = users['admin'].post('/api/time-off', {'doctor_id': ids[doctor],
                                                      'start_date': day(80)})
        assert entry.status == 201, entry
        ids[f'{doctor}_off'] = entry.json['id']
    with database.connection_context():
        ids['closure'] = TimeOff.create(doctor=None, start_date=MONDAY.replace(year=2040),
                                        end_date=MONDAY.replace(year=2040)).id
    return users, ids


def state(ids):
    """What a refused request must leave alone."""
    with database.connection_context():
        appts = list(Appointment.select(Appointment.id, Appointment.status, Appointment.date,
                                        Appointment.time, Appointment.doctor,
                                        Appointment.cancel_reason)
                     .where(Appointment.id.in_([ids['own'], ids['other']]))
                     .order_by(Appointment.id).tuples())
        hours = list(WorkingHours.select(WorkingHours.doctor, WorkingHours.weekday,
                                         WorkingHours.start, WorkingHours.end)
                     .where(WorkingHours.doctor.in_([ids['doctor'], ids['other_doctor']]))
                     .order_by(WorkingHours.id).tuples())
        doctors = list(User.select(User.id, User.name, User.active, User.slot_minutes)
                       .where(User.id.in_([ids['doctor'], ids['other_doctor']])).tuples())
        time_off = TimeOff.select().count()
    return appts, hours, doctors, time_off


HOURS = {'slot_minutes': 30, 'hours': EVERY_DAY}
MOVE = {'date': day(8), 'time': '15:00'}
# (method, path, body, expected status per caller). {other} is the other
# patient's appointment with the other doctor.
MATRIX = [
    ('GET', '/api/doctors/{doctor}/hours', None,
     dict(anon=401, patient=200, doctor=200, other_doctor=200, reception=200, admin=200)),
    ('GET', '/api/doctors/999999/hours', None, dict(anon=401, patient=404, admin=404)),
    ('GET', '/api/doctors/{patient}/hours', None, dict(admin=404)),
    ('PUT', '/api/doctors/{doctor}/hours', HOURS,
     dict(anon=401, patient=403, reception=403, other_doctor=404, doctor=200, admin=200)),
    ('PUT', '/api/doctors/999999/hours', HOURS, dict(anon=401, doctor=404, admin=404)),
    ('GET', '/api/doctors/{doctor}/slots?from=' + day(7), None,
     dict(anon=401, patient=200, doctor=200, other_doctor=200, reception=200, admin=200)),
    ('GET', '/api/doctors/999999/slots', None, dict(anon=401, patient=404, admin=404)),
    ('GET', '/api/time-off', None,
     dict(anon=401, patient=403, doctor=200, reception=200, admin=200)),
    ('POST', '/api/time-off', {'doctor_id': '{doctor}', 'start_date': day(81)},
     dict(anon=401, patient=403, other_doctor=403)),
    ('POST', '/api/time-off', {'doctor_id': None, 'start_date': day(81)},
     dict(anon=401, patient=403, doctor=403)),
    ('DELETE', '/api/time-off/{other_doctor_off}', None,
     dict(anon=401, patient=403, doctor=404)),
    ('DELETE', '/api/time-off/{closure}', None, dict(anon=401, patient=403, doctor=404)),
    ('DELETE', '/api/time-off/999999', None, dict(anon=401, doctor=404, admin=404)),
    ('POST', '/api/appointments/{other}/reschedule', MOVE,
     dict(anon=401, patient=404, doctor=403, other_doctor=403)),
    ('POST', '/api/appointments/999999/reschedule', MOVE, dict(anon=401, patient=404, admin=404)),
    ('POST', '/api/appointments/{other}/cancel', {'reason': 'not mine'},
     dict(anon=401, patient=404, doctor=403, other_doctor=403)),
    ('POST', '/api/appointments/999999/cancel', {}, dict(reception=404, admin=404)),
    ('PUT', '/api/doctors/{doctor}', {'name': 'Dr Taken Over'},
     dict(anon=401, patient=403, doctor=403, other_doctor=403, reception=403)),
    ('PUT', '/api/doctors/{patient}', {'name': 'Dr Patient'}, dict(admin=404)),
    ('PUT', '/api/doctors/999999', {'active': False}, dict(admin=404)),
]


def _placeholder(value, ids):
    """'{doctor}' in a body is that doctor's id, as a number."""
    if isinstance(value, str) and value.startswith('{') and value.endswith('}'):
        return ids[value[1:-1]]
    return value


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _placeholder(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize('method,path,body,expected', MATRIX,
                         ids=[f'{m} {p}' for m, p, _, _ in MATRIX])
def test_every_calendar_endpoint_answers_each_role_as_specified(world, method, path, body,
                                                               expected):
    users, ids = world
    before = state(ids)
    for caller, status in expected.items():
        resp = users[caller].request(method, _fill(path, ids), json_body=_fill(body, ids))
        assert resp.status == status, (caller, resp)
        assert resp.headers['Content-Type'].startswith('application/json')
        if status >= 400:
            assert set(resp.json) == {'error'} and resp.json['error'], (caller, resp)
    if all(status >= 400 for status in expected.values()):
        assert state(ids) == before


def test_unsafe_calendar_calls_without_the_csrf_token_are_403(world):
    users, ids = world
    before = state(ids)
    calls = [('PUT', f"/api/doctors/{ids['doctor']}/hours", HOURS),
             ('POST', '/api/time-off', {'doctor_id': ids['doctor'], 'start_date': day(81)}),
             ('DELETE', f"/api/time-off/{ids['doctor_off']}", None),
             ('POST', f"/api/appointments/{ids['own']}/reschedule", MOVE),
             ('POST', f"/api/appointments/{ids['own']}/cancel", {}),
             ('PUT', f"/api/doctors/{ids['doctor']}", {'active': False})]
    for method, path, body in calls:
        caller = users['doctor'] if 'time-off' in path or 'hours' in path else users['admin']
        resp = caller.request(method, path, json_body=body, csrf=False)
        assert resp.status == 403 and 'CSRF' in resp.json['error'], (path, resp)
    assert state(ids) == before


def test_a_doctor_sees_own_and_clinic_time_off_and_staff_see_all(world):
    users, ids = world
    listed = users['doctor'].get('/api/time-off?limit=1000').json
    mine = {e['id'] for e in listed['items']}
    assert ids['doctor_off'] in mine and ids['closure'] in mine
    assert ids['other_doctor_off'] not in mine
    assert listed['total'] == len(mine) and listed['limit'] == 1000 and listed['offset'] == 0
    for staff in ('reception', 'admin'):
        every = {e['id'] for e in users[staff].get('/api/time-off?limit=1000').json['items']}
        assert {ids['doctor_off'], ids['other_doctor_off'], ids['closure']} <= every
    page = users['admin'].get('/api/time-off?limit=1&offset=1').json
    assert len(page['items']) == 1 and page['total'] >= 3


def test_inactive_doctors_hours_and_slots_are_hidden_from_patients(clinic, world):
    users, _ = world
    gone = new_doctor()
    users['admin'].put(f'/api/doctors/{gone}', {'active': False})
    assert users['patient'].get(f'/api/doctors/{gone}/hours').status == 404
    assert users['patient'].get(f'/api/doctors/{gone}/slots?from={day(7)}').status == 404
    assert users['admin'].get(f'/api/doctors/{gone}/hours').status == 200
    assert slot_times(users['reception'], gone, day(7)) == []


def test_doctor_sets_own_hours_with_a_break_and_slots_follow(clinic, world):
    users, _ = world
    doctor = create_user(clinic.url, 'doctor')
    me = doctor.user['id']
    week = {'slot_minutes': 20, 'hours': [
        {'weekday': 0, 'start': '14:00', 'end': '15:00'},
        {'weekday': 0, 'start': '09:00', 'end': '10:10'},
        {'weekday': 2, 'start': '08:00', 'end': '09:00'}]}
    resp = doctor.put(f'/api/doctors/{me}/hours', week)
    assert resp.status == 200, resp
    expected = {'slot_minutes': 20, 'hours': [
        {'weekday': 0, 'start': '09:00', 'end': '10:10'},
        {'weekday': 0, 'start': '14:00', 'end': '15:00'},
        {'weekday': 2, 'start': '08:00', 'end': '09:00'}]}
    assert resp.json == expected
    assert users['patient'].get(f'/api/doctors/{me}/hours').json == expected
    found = slot_times(users['patient'], me, day(7), day(13))
    assert found == [(day(7), '09:00'), (day(7), '09:20'), (day(7), '09:40'),
                     (day(7), '14:00'), (day(7), '14:20'), (day(7), '14:40'),
                     (day(9), '08:00'), (day(9), '08:20'), (day(9), '08:40')]
    items = users['patient'].get(f'/api/doctors/{me}/slots?from={day(7)}').json['items']
    assert items[0] == {'date': day(7), 'time': '09:00', 'minutes': 20}
    lunch = book(users['other_patient'], me, day(7), '10:00')
    assert lunch.status == 409 and 'outside' in lunch.json['error']


def test_admin_sets_any_doctors_hours_and_an_empty_week_offers_nothing(world):
    users, _ = world
    doc = new_doctor()
    resp = users['admin'].put(f'/api/doctors/{doc}/hours', {'hours': []})
    assert resp.status == 200 and resp.json == {'slot_minutes': 30, 'hours': []}
    assert slot_times(users['patient'], doc, day(7), day(13)) == []
    refused = book(users['patient'], doc, day(7), '10:00')
    assert refused.status == 409 and 'outside' in refused.json['error']


BAD_HOURS = {
    'hours': [
        {'hours': [{'weekday': 0, 'start': '09:00', 'end': '12:00'},
                   {'weekday': 0, 'start': '11:30', 'end': '14:00'}]},
        {'hours': [{'weekday': 1, 'start': '08:00', 'end': '18:00'},
                   {'weekday': 1, 'start': '12:00', 'end': '13:00'}]},
        {'hours': None}, {'hours': 'Mon 9-5'}, {'hours': {'weekday': 0}}, {'hours': [[0, 9, 17]]},
        {},
    ],
    'hours[0]': [
        {'hours': [{'weekday': 0, 'start': '12:00', 'end': '12:00'}]},
        {'hours': [{'weekday': 0, 'start': '12:00', 'end': '09:00'}]},
    ],
    'weekday': [
        {'hours': [{'weekday': 7, 'start': '09:00', 'end': '12:00'}]},
        {'hours': [{'weekday': -1, 'start': '09:00', 'end': '12:00'}]},
        {'hours': [{'weekday': 'Monday', 'start': '09:00', 'end': '12:00'}]},
        {'hours': [{'weekday': True, 'start': '09:00', 'end': '12:00'}]},
        {'hours': [{'weekday': 1.5, 'start': '09:00', 'end': '12:00'}]},
        {'hours': [{'weekday': '１', 'start': '09:00', 'end': '12:00'}]},
        {'hours': [{'start': '09:00', 'end': '12:00'}]},
    ],
    'start': [
        {'hours': [{'weekday': 0, 'start': '０９:００', 'end': '12:00'}]},
        {'hours': [{'weekday': 0, 'start': '0９:0０', 'end': '12:00'}]},
        {'hours': [{'weekday': 0, 'start': '9:00', 'end': '12:00'}]},
        {'hours': [{'weekday': 0, 'start': 900, 'end': '12:00'}]},
        {'hours': [{'weekday': 0, 'end': '12:00'}]},
    ],
    'end': [
        {'hours': [{'weekday': 0, 'start': '09:00', 'end': '24:00'}]},
        {'hours': [{'weekday': 0, 'start': '09:00', 'end': '1２:00'}]},
    ],
    'slot_minutes': [
        {'slot_minutes': 4, 'hours': []}, {'slot_minutes': 241, 'hours': []},
        {'slot_minutes': 0, 'hours': []}, {'slot_minutes': -30, 'hours': []},
        {'slot_minutes': '３０', 'hours': []}, {'slot_minutes': 30.5, 'hours': []},
        {'slot_minutes': True, 'hours': []},
    ],
}


@pytest.mark.parametrize('field', list(BAD_HOURS))
def test_bad_hours_are_400_naming_the_field_and_change_nothing(world, field):
    users, ids = world
    path = f"/api/doctors/{ids['doctor']}/hours"
    before = users['admin'].get(path).json
    for body in BAD_HOURS[field]:
        resp = users['admin'].put(path, body)
        assert resp.status == 400, (body, resp)
        assert resp.json['error'].startswith(field) or f'{field}:' in resp.json['error'], \
            (body, resp)
    assert users['admin'].get(path).json == before


def test_hours_at_the_edges_of_the_rules_are_accepted(world):
    users, _ = world
    doc = new_doctor()
    touching = {'slot_minutes': 5, 'hours': [{'weekday': 6, 'start': '09:00', 'end': '12:00'},
                                             {'weekday': 6, 'start': '12:00', 'end': '13:00'}]}
    assert users['admin'].put(f'/api/doctors/{doc}/hours', touching).status == 200
    longest = {'slot_minutes': 240, 'hours': [{'weekday': 0, 'start': '00:00', 'end': '23:59'}]}
    resp = users['admin'].put(f'/api/doctors/{doc}/hours', longest)
    assert resp.status == 200 and resp.json == longest


def test_slots_range_is_at_most_31_days(world):
    users, ids = world
    path = f"/api/doctors/{ids['doctor']}/slots"
    assert users['patient'].get(f'{path}?from={day(7)}&to={day(37)}').status == 200
    for query, field in ((f'from={day(7)}&to={day(38)}', 'to'),
                         (f'from={day(7)}&to={day(6)}', 'to'),
                         ('from=2031-02-30', 'from'), ('from=today', 'from'),
                         (f'from={day(7)}&to=31-03-2031', 'to'),
                         ('from=' + quote('２０３１-０３-１０'), 'from')):
        resp = users['patient'].get(f'{path}?{query}')
        assert resp.status == 400 and resp.json['error'].startswith(field), (query, resp)
    default = users['patient'].get(path).json['items']
    assert {s['date'] for s in default} <= {day(n) for n in range(7)}


def test_slots_are_only_real_free_starts(world):
    users, _ = world
    doc = new_doctor(week=((0, '09:00', '11:00'), (0, '14:00', '15:00')))
    booked(users['admin'], doc, day(7), '10:00', patient_id=users['other_patient'].user['id'],
           minutes=45)
    assert slot_times(users['patient'], doc, day(7)) == [
        (day(7), '09:00'), (day(7), '09:30'), (day(7), '14:00'), (day(7), '14:30')]
    taken = book(users['patient'], doc, day(7), '10:30')
    assert taken.status == 409 and 'doctor already has' in taken.json['error']


def test_a_patients_own_other_visits_are_not_offered_to_them(world):
    users, _ = world
    first, second = new_doctor(), new_doctor()
    booked(users['patient'], first, day(14), '09:30')
    mine = slot_times(users['patient'], second, day(14))
    theirs = slot_times(users['other_patient'], second, day(14))
    assert (day(14), '09:30') not in mine and (day(14), '09:30') in theirs
    assert set(theirs) - set(mine) == {(day(14), '09:30')}
    assert (day(14), '09:30') in slot_times(users['admin'], second, day(14))


def test_slots_respect_the_notice_and_the_horizon(world):
    users, _ = world
    doc = new_doctor(week=tuple((d, '09:00', '17:00') for d in range(7)))
    today = slot_times(users['patient'], doc, day(0))
    assert today[0] == (day(0), '09:30')
    assert len(today) == 15
    ahead = slot_times(users['patient'], doc, day(85), day(100))
    assert ahead[-1] == (day(90), '16:30')
    assert slot_times(users['patient'], doc, day(91), day(100)) == []


def test_time_off_lists_the_affected_visits_and_cancels_nothing(world):
    users, _ = world
    doc = new_doctor(week=tuple((d, '09:00', '17:00') for d in range(7)))
    visits = [booked(users['patient'], doc, day(n), '10:00')['id'] for n in (21, 22, 23)]
    resp = users['reception'].post('/api/time-off', {
        'doctor_id': doc, 'start_date': day(21), 'end_date': day(22), 'reason': 'Conference'})
    assert resp.status == 201, resp
    entry = resp.json
    assert entry['doctor_id'] == doc and entry['reason'] == 'Conference'
    assert entry['start_time'] is None and entry['end_time'] is None
    assert [a['id'] for a in entry['affected']] == visits[:2]
    assert all(a['status'] == 'booked' for a in entry['affected'])
    assert {row(v).status for v in visits} == {'booked'}
    assert slot_times(users['other_patient'], doc, day(21), day(22)) == []
    away = book(users['other_patient'], doc, day(21), '11:00')
    assert away.status == 409 and 'away' in away.json['error']
    assert users['reception'].delete(f"/api/time-off/{entry['id']}").status == 200
    assert (day(21), '11:00') in slot_times(users['other_patient'], doc, day(21))
    assert book(users['other_patient'], doc, day(21), '11:00').status == 201
    assert users['reception'].delete(f"/api/time-off/{entry['id']}").status == 404


def test_part_day_time_off_affects_only_the_visits_it_overlaps(world):
    users, _ = world
    doc = new_doctor(week=((0, '09:00', '17:00'),))
    patient_id = users['other_patient'].user['id']
    early = booked(users['admin'], doc, day(28), '09:00', patient_id=patient_id)['id']
    spanning = booked(users['admin'], doc, day(28), '11:30', patient_id=patient_id,
                      minutes=60)['id']
    late = booked(users['admin'], doc, day(28), '13:00', patient_id=patient_id)['id']
    resp = users['admin'].post('/api/time-off', {
        'doctor_id': doc, 'start_date': day(28), 'start_time': '12:00', 'end_time': '13:00'})
    assert resp.status == 201, resp
    assert [a['id'] for a in resp.json['affected']] == [spanning]
    assert {row(v).status for v in (early, spanning, late)} == {'booked'}
    free = {t for _, t in slot_times(users['patient'], doc, day(28))}
    assert {'12:00', '12:30'}.isdisjoint(free) and {'11:00', '13:30'} <= free


def test_a_day_off_lists_a_late_visit_of_the_evening_before_that_runs_into_it(world):
    users, _ = world
    doc = new_doctor(week=tuple((d, '20:00', '00:00') for d in range(7)), slot_minutes=60)
    patient_id = users['other_patient'].user['id']
    late = booked(users['admin'], doc, day(35), '23:00', patient_id=patient_id,
                  minutes=90, override=True)['id']
    resp = users['admin'].post('/api/time-off', {'doctor_id': doc, 'start_date': day(36)})
    assert resp.status == 201, resp
    assert [a['id'] for a in resp.json['affected']] == [late]
    assert row(late).status == 'booked'


def test_a_clinic_closure_touches_every_doctor(world):
    users, _ = world
    one, two = new_doctor(week=((4, '09:00', '17:00'),)), new_doctor(week=((4, '09:00', '17:00'),))
    visits = [booked(users['patient'], one, day(46), '09:00')['id'],
              booked(users['other_patient'], two, day(46), '09:00')['id']]
    resp = users['admin'].post('/api/time-off', {'doctor_id': None, 'start_date': day(46),
                                                 'reason': 'Public holiday'})
    assert resp.status == 201 and resp.json['doctor_id'] is None
    try:
        assert set(visits) <= {a['id'] for a in resp.json['affected']}
        assert slot_times(users['patient'], two, day(46)) == []
        assert book(users['patient'], two, day(46), '15:00').status == 409
    finally:
        assert users['admin'].delete(f"/api/time-off/{resp.json['id']}").status == 200


def test_a_doctor_keeps_their_own_time_off(world):
    users, ids = world
    doctor = users['doctor']
    resp = doctor.post('/api/time-off', {'start_date': day(60), 'end_date': day(61),
                                         'start_time': '09:00', 'end_time': '12:00'})
    assert resp.status == 201 and resp.json['doctor_id'] == ids['doctor']
    assert resp.json['affected'] == []
    same = doctor.post('/api/time-off', {'doctor_id': ids['doctor'], 'start_date': day(62)})
    assert same.status == 201
    for entry in (resp.json, same.json):
        assert doctor.delete(f"/api/time-off/{entry['id']}").status == 200


BAD_TIME_OFF = [
    ({'start_date': day(70), 'end_date': day(69)}, 'end_date'),
    ({'start_date': day(70), 'end_date': day(70 + 366)}, 'end_date'),
    ({'start_date': day(70), 'start_time': '10:00'}, 'end_time'),
    ({'start_date': day(70), 'end_time': '10:00'}, 'start_time'),
    ({'start_date': day(70), 'start_time': '10:00', 'end_time': '10:00'}, 'end_time'),
    ({'start_date': day(70), 'start_time': '１０:00', 'end_time': '11:00'}, 'start_time'),
    ({'end_date': day(70)}, 'start_date'),
    ({'start_date': '2031-02-29'}, 'start_date'),
    ({'start_date': day(70), 'reason': 'x' * 201}, 'reason'),
    ({'start_date': day(70), 'reason': ['a']}, 'reason'),
    ({'start_date': day(70), 'doctor_id': 'everyone'}, 'doctor_id'),
    ({'start_date': day(70), 'doctor_id': 999999}, 'doctor_id'),
    ({'start_date': day(70), 'doctor_id': '{patient}'}, 'doctor_id'),
]


@pytest.mark.parametrize('body,field', BAD_TIME_OFF, ids=[f for _, f in BAD_TIME_OFF])
def test_bad_time_off_is_400_naming_the_field(world, body, field):
    users, ids = world
    with database.connection_context():
        before = TimeOff.select().count()
    resp = users['admin'].post('/api/time-off', _fill(body, ids))
    assert resp.status == 400 and resp.json['error'].startswith(field), resp
    with database.connection_context():
        assert TimeOff.select().count() == before


def test_a_deactivated_doctor_leaves_booking_but_keeps_history(world):
    users, _ = world
    doc = new_doctor(week=tuple((d, '09:00', '17:00') for d in range(7)), name='Dr Leaving')
    earlier = booked(users['patient'], doc, day(3), '09:00')['id']
    with database.connection_context():
        Appointment.update(date=MONDAY.replace(year=2030), status='completed') \
            .where(Appointment.id == earlier).execute()
    later = [booked(users['patient'], doc, day(n), '10:00')['id'] for n in (9, 2)]
    started = booked(users['patient'], doc, day(0), '09:30')['id']
    with database.connection_context():
        Appointment.update(time='08:00').where(Appointment.id == started).execute()
    resp = users['admin'].put(f'/api/doctors/{doc}', {'active': False})
    assert resp.status == 200, resp
    assert resp.json['active'] is False
    assert [a['id'] for a in resp.json['affected']] == sorted(later, key=lambda i: row(i).date)
    assert {row(i).status for i in later + [started]} == {'booked'}
    bookable = users['patient'].get('/api/doctors?limit=1000').json['items']
    assert doc not in {d['id'] for d in bookable}
    listed = {d['id']: d for d in users['reception'].get('/api/doctors?limit=1000').json['items']}
    assert listed[doc]['active'] is False
    refused = book(users['other_patient'], doc, day(4), '10:00')
    assert refused.status in (400, 409) and 'doctor' in refused.json['error']
    staff = book(users['admin'], doc, day(4), '10:00', patient_id=users['other_patient'].user['id'],
                 override=True)
    assert staff.status in (400, 409)
    stay = users['reception'].post(f'/api/appointments/{later[0]}/reschedule',
                                   {'date': day(9), 'time': '11:00'})
    assert stay.status == 409 and 'doctor' in stay.json['error']
    mine = {a['id']: a for a in users['patient'].get('/api/appointments?limit=1000').json['items']}
    assert mine[earlier]['status'] == 'completed' and mine[earlier]['doctor']['id'] == doc
    back = users['admin'].put(f'/api/doctors/{doc}', {'active': True})
    assert back.status == 200 and 'affected' not in back.json
    assert book(users['other_patient'], doc, day(4), '10:00').status == 201


def test_admin_edits_a_doctors_name_and_specialization(world):
    users, _ = world
    doc = new_doctor()
    resp = users['admin'].put(f'/api/doctors/{doc}', {'name': 'Dr Eve Moss',
                                                      'specialization': 'Dermatology'})
    assert resp.status == 200, resp
    assert resp.json['name'] == 'Dr Eve Moss' and resp.json['specialization'] == 'Dermatology'
    assert resp.json['active'] is True and 'affected' not in resp.json
    for body, field in (({'name': ''}, 'name'), ({'active': 'no'}, 'active'),
                        ({'active': None}, 'active'), ({'specialization': 5}, 'specialization'),
                        ({'name': 'x' * 201}, 'name')):
        bad = users['admin'].put(f'/api/doctors/{doc}', body)
        assert bad.status == 400 and bad.json['error'].startswith(field), (body, bad)
    with database.connection_context():
        assert User.get_by_id(doc).name == 'Dr Eve Moss'
