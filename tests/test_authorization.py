"""SPEC §2 policy for every endpoint and role: not logged in 401, wrong role
403, another user's record 404 — and nothing changes when refused."""
import datetime

import pytest

from app.db import database
from app.models import Appointment
from tests.client import Client
from tests.conftest import create_user

DAY = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
FAR = (datetime.date.today() + datetime.timedelta(days=3000)).isoformat()
EVERY_DAY = {'hours': [{'weekday': d, 'start': '09:00', 'end': '17:00'} for d in range(7)]}


@pytest.fixture(scope='module')
def world(base_url):
    """Two patients and two doctors, each patient with one appointment with
    'their' doctor dated today (so the doctor may complete it)."""
    users = {name: create_user(base_url, role) for name, role in (
        ('patient', 'patient'), ('other_patient', 'patient'),
        ('doctor', 'doctor'), ('other_doctor', 'doctor'), ('admin', 'admin'))}
    users['anon'] = Client(base_url)
    appts = {}
    for patient, doctor in (('patient', 'doctor'), ('other_patient', 'other_doctor')):
        resp = users[patient].post('/api/appointments', {
            'doctor_id': users[doctor].user['id'], 'date': DAY, 'time': '10:00'})
        assert resp.status == 201, resp
        appts[patient] = resp.json['id']
    with database.connection_context():
        (Appointment.update(date=datetime.date.today())
         .where(Appointment.id.in_(list(appts.values()))).execute())
    for name in ('patient', 'doctor', 'other_doctor'):
        appts[name + '_user'] = users[name].user['id']
    resp = users['admin'].post('/api/time-off', {'doctor_id': users['other_doctor'].user['id'],
                                                 'start_date': FAR})
    assert resp.status == 201, resp
    appts['other_time_off'] = resp.json['id']
    return users, appts


def status_snapshot(appointment_id):
    with database.connection_context():
        return Appointment.get_by_id(appointment_id).status


# (method, path, body, expected status per caller). "own" paths use the
# patient's appointment; the "other" rows use the other patient's one.
MATRIX = [
    ('GET', '/api/me', None, dict(anon=401, patient=200, doctor=200, admin=200)),
    ('PUT', '/api/me/reminders', {'enabled': True}, dict(anon=401, patient=200, doctor=403, admin=403)),
    ('POST', '/api/logout', {}, dict(anon=401)),
    ('GET', '/api/doctors', None, dict(anon=401, patient=200, doctor=200, admin=200)),
    ('POST', '/api/doctors', {'email': 'x@y.zz', 'password': 'long-enough', 'name': 'X',
                              'specialization': 'Y'}, dict(anon=401, patient=403, doctor=403)),
    ('GET', '/api/patients', None, dict(anon=401, patient=403, doctor=200, admin=200)),
    ('POST', '/api/patients', {'name': 'Walk In'}, dict(anon=401, patient=403, doctor=403)),
    ('GET', '/api/patients/{patient_user}', None, dict(anon=401, patient=403, doctor=403,
                                                      admin=200)),
    ('GET', '/api/patients/{doctor_user}', None, dict(admin=404)),
    ('PUT', '/api/patients/{patient_user}', {'phone': '0123'},
     dict(anon=401, patient=403, doctor=403, admin=200)),
    ('PUT', '/api/me', {'phone': '0123'}, dict(anon=401, patient=200, doctor=403, admin=403)),
    ('GET', '/api/appointments', None, dict(anon=401, patient=200, doctor=200, admin=200)),
    ('POST', '/api/appointments', {'doctor_id': 1, 'date': DAY, 'time': '10:00'},
     dict(anon=401, doctor=403)),
    ('GET', '/api/appointments/{own}', None, dict(anon=401, patient=200, doctor=200, admin=200)),
    ('GET', '/api/appointments/{other}', None, dict(patient=404, doctor=404, admin=200)),
    ('POST', '/api/appointments/{other}/cancel', {}, dict(anon=401, patient=404, doctor=403)),
    ('POST', '/api/appointments/{other}/complete', {'diagnosis': 'a', 'treatment': 'b'},
     dict(anon=401, patient=403, doctor=404, admin=403)),
    ('POST', '/api/appointments/{other}/no-show', {},
     dict(anon=401, patient=403, doctor=404, admin=403)),
    ('POST', '/api/appointments/{other}/cancel', {'reason': 'not mine'},
     dict(anon=401, patient=404, doctor=403)),
    ('POST', '/api/appointments/{other}/reschedule', {'date': DAY, 'time': '11:00'},
     dict(anon=401, patient=404, doctor=403)),
    ('GET', '/api/doctors/{doctor_user}/hours', None,
     dict(anon=401, patient=200, doctor=200, admin=200)),
    ('GET', '/api/doctors/{patient_user}/hours', None, dict(patient=404, admin=404)),
    ('PUT', '/api/doctors/{other_doctor_user}/hours', EVERY_DAY,
     dict(anon=401, patient=403, doctor=404, admin=200)),
    ('GET', '/api/doctors/{doctor_user}/slots?from=' + DAY, None,
     dict(anon=401, patient=200, doctor=200, admin=200)),
    ('GET', '/api/time-off', None, dict(anon=401, patient=403, doctor=200, admin=200)),
    ('POST', '/api/time-off', {'start_date': FAR}, dict(anon=401, patient=403)),
    ('POST', '/api/time-off', {'doctor_id': None, 'start_date': FAR}, dict(doctor=403)),
    ('DELETE', '/api/time-off/{other_time_off}', None, dict(anon=401, patient=403, doctor=404)),
    ('PUT', '/api/doctors/{doctor_user}', {'specialization': 'General practice'},
     dict(anon=401, patient=403, doctor=403, admin=200)),
    ('PUT', '/api/doctors/{patient_user}', {'name': 'Dr Nobody'}, dict(admin=404)),
]


@pytest.mark.parametrize('method,path,body,expected', MATRIX,
                         ids=[f'{m} {p}' for m, p, _, _ in MATRIX])
def test_every_endpoint_answers_each_role_as_specified(world, method, path, body, expected):
    users, appts = world
    path = path.format(own=appts['patient'], other=appts['other_patient'], **appts)
    before = status_snapshot(appts['other_patient'])
    for caller, status in expected.items():
        resp = users[caller].request(method, path, json_body=body)
        assert resp.status == status, (caller, resp)
        assert resp.headers['Content-Type'].startswith('application/json')
        if status >= 400:
            assert set(resp.json) == {'error'}
    assert status_snapshot(appts['other_patient']) == before


def test_lists_show_only_what_is_yours(world):
    users, appts = world
    mine = users['patient'].get('/api/appointments').json['items']
    assert {a['id'] for a in mine} == {appts['patient']}
    doctors = users['doctor'].get('/api/appointments').json['items']
    assert {a['id'] for a in doctors} == {appts['patient']}
    every = users['admin'].get('/api/appointments?limit=1000&date=' + datetime.date.today().isoformat())
    assert {appts['patient'], appts['other_patient']} <= {a['id'] for a in every.json['items']}


def test_patient_filter_cannot_reach_another_patients_records(world):
    users, appts = world
    other_id = users['other_patient'].user['id']
    resp = users['patient'].get(f'/api/appointments?patient_id={other_id}')
    assert resp.status == 200 and resp.json['items'] == []


def test_unknown_api_path_is_json_404(world):
    users, _ = world
    resp = users['patient'].get('/api/nothing-here')
    assert resp.status == 404 and resp.json == {'error': 'not found'}
    wrong_method = users['patient'].request('DELETE', '/api/me')
    assert wrong_method.status == 405 and 'error' in wrong_method.json
