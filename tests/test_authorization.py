"""SPEC §2 and §9 policy for every endpoint and role: not logged in 401,
wrong role 403, another user's record 404, and nothing changes when
refused. Reception reads every appointment and patient's contact details
but never clinical text, in JSON or on any page."""
import datetime
import re
import uuid

import pytest

from app.db import database
from app.factory import create_app
from app.models import Appointment, Export
from tests.calendar_site import reception
from tests.client import Client
from tests.conftest import create_user

TODAY = datetime.date.today()
DAY = (TODAY + datetime.timedelta(days=30)).isoformat()
FAR = (TODAY + datetime.timedelta(days=3000)).isoformat()
EVERY_DAY = {'hours': [{'weekday': d, 'start': '09:00', 'end': '17:00'} for d in range(7)]}
CALLERS = ('anon', 'patient', 'doctor', 'admin', 'reception')
NO_SUCH = 999999999


@pytest.fixture(scope='module')
def world(base_url):
    """Two patients and two doctors, each patient with one appointment with
    'their' doctor dated today (so the doctor may complete it); a cancelled
    visit staff can try to change again; time off to delete; an export."""
    users = {name: create_user(base_url, role) for name, role in (
        ('patient', 'patient'), ('other_patient', 'patient'),
        ('doctor', 'doctor'), ('other_doctor', 'doctor'), ('admin', 'admin'))}
    users['anon'] = Client(base_url)
    users['reception'] = reception(base_url)
    appts = {}
    for patient, doctor in (('patient', 'doctor'), ('other_patient', 'other_doctor')):
        resp = users[patient].post('/api/appointments', {
            'doctor_id': users[doctor].user['id'], 'date': DAY, 'time': '10:00'})
        assert resp.status == 201, resp
        appts[patient] = resp.json['id']
    with database.connection_context():
        (Appointment.update(date=TODAY)
         .where(Appointment.id.in_(list(appts.values()))).execute())
        appts['cancelled'] = Appointment.create(
            patient=users['other_patient'].user['id'], doctor=users['other_doctor'].user['id'],
            date=DAY, time='15:00', status='cancelled').id
        appts['export'] = Export.create(
            task_id=str(uuid.uuid4()), requester=users['patient'].user['id'], scope='patient',
            patient=users['patient'].user['id'], status='failed', error='disk full').task_id
    for name in ('patient', 'doctor', 'other_doctor'):
        appts[name + '_user'] = users[name].user['id']
    for key in ('other_time_off', 'reception_time_off', 'admin_time_off'):
        resp = users['admin'].post('/api/time-off', {
            'doctor_id': users['other_doctor'].user['id'], 'start_date': FAR})
        assert resp.status == 201, resp
        appts[key] = resp.json['id']
    return users, appts


def status_snapshot(appointment_id):
    with database.connection_context():
        return Appointment.get_by_id(appointment_id).status


def refused(anon=401, **others):
    """Answers of an endpoint for staff only: anon 401, the rest 403 unless named."""
    return dict(anon=anon, **{name: 403 for name in CALLERS[1:] if name not in others}, **others)


def everyone(status):
    return {name: status for name in CALLERS}


def logged_in(status, **others):
    return {'anon': 401, **{name: status for name in CALLERS[1:]}, **others}


REPORT = f'/api/reports/{NO_SUCH}'

# (method, path, body, expected status per caller). "own" paths use the
# patient's appointment; the "other" rows use the other patient's one.
# Staff rows that would change something real use an id that does not
# exist or a body that is refused after the role check: a 404 or 400
# proves the role got through.
MATRIX = [
    ('POST', '/api/register', {}, everyone(400)),
    ('POST', '/api/login', {}, everyone(400)),
    ('GET', '/api/me', None, logged_in(200)),
    ('PUT', '/api/me/reminders', {'enabled': True}, refused(patient=200)),
    ('PUT', '/api/me/password', {}, logged_in(400)),
    ('GET', '/api/me/sessions', None, logged_in(200)),
    ('DELETE', '/api/me/sessions', None, logged_in(200)),
    ('POST', '/api/password/forgot', {}, everyone(400)),
    ('POST', '/api/password/reset', {}, everyone(400)),
    ('POST', '/api/logout', {}, dict(anon=401)),
    ('GET', '/api/doctors', None, logged_in(200)),
    ('POST', '/api/doctors', {'email': 'x@y.zz', 'password': 'long-enough', 'name': 'X',
                              'specialization': 'Y'}, refused(admin=None)),
    ('POST', '/api/doctors', {'email': 'not-an-email'}, dict(admin=400)),
    ('GET', '/api/patients', None, refused(doctor=200, admin=200, reception=200)),
    ('POST', '/api/patients', {'name': 'Walk In'}, refused(admin=None, reception=None)),
    ('POST', '/api/patients', {}, dict(admin=400, reception=400)),
    ('GET', '/api/patients/{patient_user}', None, refused(admin=200, reception=200)),
    ('GET', '/api/patients/{doctor_user}', None, dict(admin=404, reception=404)),
    ('PUT', '/api/patients/{patient_user}', {'phone': '0123'},
     refused(admin=200, reception=200)),
    ('PUT', '/api/me', {'phone': '0123'}, refused(patient=200)),
    ('GET', '/api/appointments', None, logged_in(200)),
    ('POST', '/api/appointments', {'date': DAY, 'time': '10:00'},
     dict(anon=401, patient=400, doctor=403, admin=400, reception=400)),
    ('GET', '/api/appointments/{own}', None, logged_in(200)),
    ('GET', '/api/appointments/{other}', None, dict(patient=404, doctor=404, admin=200,
                                                    reception=200)),
    ('POST', '/api/appointments/{other}/cancel', {'reason': 'not mine'},
     dict(anon=401, patient=404, doctor=403)),
    ('POST', '/api/appointments/{cancelled}/cancel', {}, dict(admin=409, reception=409)),
    ('POST', '/api/appointments/{other}/reschedule', {'date': DAY, 'time': '11:00'},
     dict(anon=401, patient=404, doctor=403)),
    ('POST', '/api/appointments/{cancelled}/reschedule', {'date': DAY, 'time': '11:00'},
     dict(admin=409, reception=409)),
    ('POST', '/api/appointments/{other}/check-in', {}, refused(doctor=404, admin=None,
                                                               reception=None)),
    ('POST', '/api/appointments/{cancelled}/check-in', {}, dict(admin=409, reception=409)),
    ('POST', '/api/appointments/{other}/complete', {'diagnosis': 'a', 'treatment': 'b'},
     refused(doctor=404)),
    ('POST', '/api/appointments/{other}/no-show', {}, refused(doctor=404)),
    ('PUT', '/api/appointments/{other}/treatment', {'diagnosis': 'a', 'treatment': 'b'},
     refused(doctor=404)),
    ('PUT', '/api/appointments/{own}/treatment', {'diagnosis': 'a', 'treatment': 'b'},
     dict(doctor=409)),
    ('GET', '/api/appointments/{own}/treatment/history', None,
     refused(patient=200, doctor=200, admin=200)),
    ('GET', '/api/appointments/{other}/treatment/history', None, dict(patient=404, doctor=404)),
    ('GET', '/api/appointments/{own}/reminders', None, logged_in(200, doctor=403)),
    ('GET', '/api/appointments/{other}/reminders', None, logged_in(200, patient=404, doctor=403)),
    ('GET', '/api/doctors/{doctor_user}/hours', None, logged_in(200)),
    ('GET', '/api/doctors/{patient_user}/hours', None, dict(patient=404, admin=404,
                                                            reception=404)),
    ('PUT', '/api/doctors/{other_doctor_user}/hours', EVERY_DAY, refused(doctor=404, admin=200)),
    ('GET', '/api/doctors/{doctor_user}/slots?from=' + DAY, None, logged_in(200)),
    ('GET', '/api/doctors/{doctor_user}/free-times?date=' + DAY, None, logged_in(200)),
    ('GET', '/api/time-off', None, refused(doctor=200, admin=200, reception=200)),
    ('POST', '/api/time-off', {'start_date': FAR}, dict(anon=401, patient=403)),
    ('POST', '/api/time-off', {'doctor_id': None, 'start_date': FAR}, dict(doctor=403)),
    ('POST', '/api/time-off', {'start_date': 'soon'}, dict(admin=400, reception=400)),
    ('DELETE', '/api/time-off/{other_time_off}', None, dict(anon=401, patient=403, doctor=404)),
    ('DELETE', '/api/time-off/{reception_time_off}', None, dict(reception=200)),
    ('DELETE', '/api/time-off/{admin_time_off}', None, dict(admin=200)),
    ('PUT', '/api/doctors/{doctor_user}', {'specialization': 'General practice'},
     refused(admin=200)),
    ('PUT', '/api/doctors/{patient_user}', {'name': 'Dr Nobody'}, dict(admin=404)),
    ('POST', '/api/exports', {'scope': 'all'}, refused(admin=None)),
    ('POST', '/api/exports', {'scope': 'nothing'}, dict(admin=400)),
    ('GET', '/api/exports/{export}', None, refused(patient=200, doctor=404, admin=200)),
    ('GET', '/api/exports/{export}/download', None, refused(patient=409, doctor=404, admin=409)),
    ('GET', '/api/admin/stats', None, refused(admin=200)),
    ('GET', '/api/admin/status', None, refused(admin=200)),
    ('POST', '/api/jobs/daily_reminders/run', {}, refused(admin=None)),
    ('POST', '/api/jobs/no_such_job/run', {}, dict(admin=404)),
    ('POST', '/api/jobs/no_such_job/pause', {}, refused(admin=404)),
    ('POST', '/api/jobs/no_such_job/resume', {}, refused(admin=404)),
    ('GET', '/api/tasks/no-such-task', None, refused(admin=200)),
    ('POST', '/api/tasks/no-such-task/retry', {}, refused(admin=404)),
    ('POST', f'/api/incidents/{NO_SUCH}/resolve', {}, refused(admin=404)),
    ('GET', '/api/monthly-reports', None, refused(doctor=200, admin=200)),
    ('GET', '/api/outbox', None, refused(admin=200)),
    ('POST', f'/api/outbox/{NO_SUCH}/resend', {}, refused(admin=404)),
    ('GET', '/api/audit', None, refused(admin=200)),
    ('GET', '/api/me/audit', None, refused(patient=200)),
    # Enrolling only starts a pending secret; a missing code is refused
    # after the role check.
    ('POST', '/api/me/2fa', None, refused(doctor=200, admin=200, reception=200)),
    ('POST', '/api/me/2fa/confirm', {}, refused(doctor=400, admin=400, reception=400)),
    ('DELETE', '/api/me/2fa', {}, refused(doctor=400, admin=400, reception=400)),
    ('GET', '/api/staff', None, refused(admin=200)),
    ('POST', '/api/staff', {}, refused(admin=400)),
    ('PUT', f'/api/staff/{NO_SUCH}', {'name': 'Nobody'}, refused(admin=404)),
    ('DELETE', f'/api/admin/login-locks/{NO_SUCH}', None, refused(admin=404)),
    ('GET', '/api/reports', None, refused(admin=200)),
    ('POST', '/api/reports', {}, refused(admin=400)),
    ('GET', REPORT, None, refused(admin=404)),
    ('PUT', REPORT, {}, refused(admin=404)),
    ('DELETE', REPORT, None, refused(admin=404)),
    ('POST', REPORT + '/run', {}, refused(admin=404)),
    ('POST', REPORT + '/test', {}, refused(admin=404)),
    ('GET', REPORT + '/executions', None, refused(admin=404)),
    ('GET', REPORT + '/executions/1', None, refused(admin=404)),
    ('GET', REPORT + '/executions/1/download', None, refused(admin=404)),
]
# Logging out ends the session every other row uses: its own test below.
ANSWERED_ELSEWHERE = {('POST', '/api/logout'): set(CALLERS[1:])}


def row_answers(expected):
    return {caller: status for caller, status in expected.items() if status is not None}


@pytest.mark.parametrize('method,path,body,expected', MATRIX,
                         ids=[f'{m} {p}' for m, p, _, _ in MATRIX])
def test_every_endpoint_answers_each_role_as_specified(world, method, path, body, expected):
    users, appts = world
    path = path.format(own=appts['patient'], other=appts['other_patient'], **appts)
    before = status_snapshot(appts['other_patient'])
    for caller, status in row_answers(expected).items():
        resp = users[caller].request(method, path, json_body=body)
        assert resp.status == status, (caller, resp)
        assert resp.headers['Content-Type'].startswith('application/json')
        if status >= 400:
            assert set(resp.json) == {'error'}
    assert status_snapshot(appts['other_patient']) == before


def test_the_matrix_asks_every_api_endpoint_as_every_role(settings):
    app = create_app(settings)
    asked = {}
    for method, path, _, expected in MATRIX:
        environ = {'PATH_INFO': path.split('?')[0].format_map(_AnyId()), 'REQUEST_METHOD': method}
        route, _ = app.router.match(environ)
        asked.setdefault((method, route.rule), set()).update(row_answers(expected))
    for (method, rule), callers in ANSWERED_ELSEWHERE.items():
        asked.setdefault((method, rule), set()).update(callers)
    endpoints = {(route.method, route.rule) for route in app.routes
                 if route.rule.startswith('/api/')}
    missing = {endpoint: sorted(set(CALLERS) - asked.get(endpoint, set()))
               for endpoint in endpoints}
    assert {k: v for k, v in missing.items() if v} == {}


class _AnyId(dict):
    def __missing__(self, key):
        return '1'


def test_every_role_logs_out(base_url):
    for client in (create_user(base_url, 'patient'), create_user(base_url, 'doctor'),
                   create_user(base_url, 'admin'), reception(base_url)):
        assert client.post('/api/logout').status == 200
        assert client.get('/api/me').status == 401


def test_lists_show_only_what_is_yours(world):
    users, appts = world
    mine = users['patient'].get('/api/appointments').json['items']
    assert {a['id'] for a in mine} == {appts['patient']}
    doctors = users['doctor'].get('/api/appointments').json['items']
    assert {a['id'] for a in doctors} == {appts['patient']}
    for staff in ('admin', 'reception'):
        every = users[staff].get(f'/api/appointments?limit=1000&date={TODAY.isoformat()}')
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


DIAGNOSIS = 'Confidential diagnosis 7f3a'
RECORD = {'diagnosis': DIAGNOSIS, 'treatment': 'Confidential treatment 7f3a',
          'prescription': 'Confidential prescription 7f3a'}


@pytest.fixture(scope='module')
def clinic_day(base_url):
    """A doctor with a completed visit whose record holds clinical text, and
    a booked visit of the same patient ahead; the front desk and an admin."""
    people = {'doctor': create_user(base_url, 'doctor', name='Dr Clinical'),
              'patient': create_user(base_url, 'patient', name='Pat Clinical'),
              'admin': create_user(base_url, 'admin'), 'reception': reception(base_url)}
    doctor_id, patient_id = people['doctor'].user['id'], people['patient'].user['id']
    with database.connection_context():
        visit = Appointment.create(doctor=doctor_id, patient=patient_id, date=TODAY,
                                   time='08:00', status='booked').id
    assert people['doctor'].post(f'/api/appointments/{visit}/complete', RECORD).status == 200
    ids = {'visit': visit, 'doctor': doctor_id, 'patient': patient_id}
    return people, ids


def no_clinical_text(resp, *appointments):
    assert resp.status in (200, 201), resp
    assert 'Confidential' not in resp.text
    for appointment in appointments:
        assert 'treatment' in appointment and appointment['treatment'] is None


def test_reception_gets_no_clinical_text_from_any_appointment_json(clinic_day):
    people, ids = clinic_day
    desk, admin = people['reception'], people['admin']
    visit = ids['visit']
    assert admin.get(f'/api/appointments/{visit}').json['treatment'] == RECORD

    resp = desk.get(f'/api/appointments/{visit}')
    no_clinical_text(resp, resp.json)
    assert resp.json['status'] == 'completed'
    resp = desk.post(f'/api/appointments/{visit}/check-in')
    assert resp.status == 409 and 'Confidential' not in resp.text
    resp = desk.get(f'/api/appointments?patient_id={ids["patient"]}')
    no_clinical_text(resp, *resp.json['items'])
    assert visit in {a['id'] for a in resp.json['items']}
    resp = desk.get(f'/api/appointments?limit=1000&date={TODAY.isoformat()}')
    no_clinical_text(resp, *resp.json['items'])

    resp = desk.post('/api/appointments', {'patient_id': ids['patient'],
                                           'doctor_id': ids['doctor'], 'date': DAY,
                                           'time': '11:00'})
    no_clinical_text(resp, resp.json)
    booked = resp.json['id']
    with database.connection_context():  # patients are checked in on the day of the visit
        today = Appointment.create(doctor=ids['doctor'], patient=ids['patient'], date=TODAY,
                                   time='23:40', status='booked').id
    resp = desk.post(f'/api/appointments/{today}/check-in')
    no_clinical_text(resp, resp.json)
    resp = desk.post(f'/api/appointments/{booked}/reschedule', {'date': DAY, 'time': '12:00'})
    no_clinical_text(resp, resp.json)
    resp = desk.post('/api/time-off', {'doctor_id': ids['doctor'], 'start_date': DAY})
    no_clinical_text(resp, *resp.json['affected'])
    assert [a['id'] for a in resp.json['affected']] == [booked]
    resp = desk.post(f'/api/appointments/{booked}/cancel', {'reason': 'Doctor away'})
    no_clinical_text(resp, resp.json)

    # Moving a doctor's patients after they leave is done from the list an
    # admin's deactivation answers with; the front desk cannot deactivate.
    resp = desk.put(f'/api/doctors/{ids["doctor"]}', {'active': False})
    assert resp.status == 403 and 'Confidential' not in resp.text
    for path in (f'/api/appointments/{visit}/treatment/history', '/api/monthly-reports',
                 '/api/patients?q=Pat'):
        assert 'Confidential' not in desk.get(path).text


def test_the_affected_list_of_a_deactivated_doctor_holds_treatment_only_for_who_reads_it(
        base_url):
    admin = create_user(base_url, 'admin')
    doctor = create_user(base_url, 'doctor')
    patient = create_user(base_url, 'patient')
    resp = patient.post('/api/appointments', {'doctor_id': doctor.user['id'], 'date': DAY,
                                              'time': '13:00'})
    assert resp.status == 201, resp
    resp = admin.put(f'/api/doctors/{doctor.user["id"]}', {'active': False})
    assert resp.status == 200, resp
    assert [a['treatment'] for a in resp.json['affected']] == [None]


PAGE_ARGUMENTS = {'name': 'daily_reminders', 'signature': 'x', 'task_id': '0'}


def reception_pages(app, ids):
    """Every page's URL, its ids filled with the clinical visit's."""
    values = {'appointment_id': ids['visit'], 'doctor_id': ids['doctor'],
              'patient_id': ids['patient'], **PAGE_ARGUMENTS}
    for route in app.routes:
        if route.method != 'GET' or route.rule.startswith(('/api/', '/static/')):
            continue
        yield re.sub(r'<(\w+)(:[^>]*)?>',
                     lambda m: str(values.get(m.group(1), 1)), route.rule)


def test_no_page_shows_reception_clinical_text(clinic_day, settings):
    people, ids = clinic_day
    desk = people['reception']
    pages = list(reception_pages(create_app(settings), ids))
    opened = set()
    for path in pages:
        resp = desk.get(path)
        assert 'Confidential' not in resp.text, path
        if resp.status == 200:
            opened.add(path)
    # The front desk does open pages here: its day list (with today's
    # completed visit), the patient's record, the visit's reschedule page.
    assert {'/reception', f'/patients/{ids["patient"]}', '/admin/time-off',
            f'/appointments/{ids["visit"]}/reschedule'} <= opened
    assert 'Pat Clinical' in desk.get('/reception').text
    doctor_view = people['doctor'].get(f'/doctor/appointments/{ids["visit"]}')
    assert DIAGNOSIS in doctor_view.text
