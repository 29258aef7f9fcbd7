"""R4: malformed, oversized, wrong-typed and hostile input on every endpoint
answers 4xx with a clear JSON message — never a 500 — and changes nothing."""
import datetime
import json
import random

import pytest

from app.db import database
from app.factory import create_app
from app.models import Appointment, TimeOff, User, WorkingHours
from app.settings import ConfigError, load
from tests.client import Client
from tests.conftest import ServerThread, base_env, create_user
from tests.test_reports import report_body

DAY = (datetime.date.today() + datetime.timedelta(days=40)).isoformat()

HOSTILE_VALUES = [
    None, True, 0, -1, 2**70, 1.5e308, '', ' ', 'x' * 100_000, '\x00\x07\x1b[31m', '\ud800',
    '<script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd', [], ['a'], {}, {'$gt': ''},
    '2026-13-45', '99:99', '１２:００', 'NaN', '9999-12-31', '0001-01-01', '0９:0０', '٣', '²',
    '１', [{'weekday': 0, 'start': '09:00', 'end': '10:00'}] * 100,
]

RAW_BODIES = [
    b'{', b'[]', b'"text"', b'null', b'123', b'{"a":', b'\xff\xfe\x00', b'{"email": "a@b.c"' + b' ' * 10,
    json.dumps({'nested': {'deep': [[[[[]]]]]}}).encode(),
]

ENDPOINTS = [
    ('POST', '/api/register', ['email', 'password', 'name', 'phone'], 'anon'),
    ('POST', '/api/login', ['email', 'password'], 'anon'),
    ('PUT', '/api/me/reminders', ['enabled'], 'patient'),
    ('POST', '/api/doctors', ['email', 'password', 'name', 'specialization'], 'admin'),
    ('POST', '/api/appointments', ['doctor_id', 'date', 'time', 'reason', 'patient_id'], 'patient'),
    ('POST', '/api/appointments', ['doctor_id', 'date', 'time', 'patient_id'], 'admin'),
    ('POST', '/api/appointments/{appt}/complete', ['diagnosis', 'treatment', 'prescription'], 'doctor'),
    ('POST', '/api/appointments/{appt}/cancel', [], 'patient'),
    ('PUT', '/api/doctors/{doctor}/hours', ['slot_minutes', 'hours'], 'doctor'),
    ('POST', '/api/time-off', ['doctor_id', 'start_date', 'end_date', 'start_time', 'end_time',
                               'reason'], 'admin'),
    ('POST', '/api/time-off', ['doctor_id', 'start_date', 'end_date', 'start_time', 'end_time'],
     'doctor'),
    ('POST', '/api/appointments/{future}/reschedule', ['date', 'time', 'doctor_id', 'override'],
     'patient'),
    ('POST', '/api/appointments/{future}/reschedule', ['date', 'time', 'doctor_id', 'override'],
     'admin'),
    ('POST', '/api/appointments', ['doctor_id', 'date', 'time', 'patient_id', 'minutes',
                                   'override'], 'admin'),
    ('PUT', '/api/doctors/{spare_doctor}', ['name', 'specialization', 'active'], 'admin'),
    ('POST', '/api/appointments/{future}/cancel', ['reason'], 'admin'),
    ('POST', '/api/patients', ['email', 'name', 'phone', 'date_of_birth'], 'admin'),
    ('PUT', '/api/me', ['name', 'phone', 'date_of_birth'], 'patient'),
]

QUERY_ENDPOINTS = [
    ('/api/appointments', ['date', 'from', 'to', 'status', 'doctor_id', 'patient_id', 'limit', 'offset']),
    ('/api/doctors', ['limit', 'offset']),
    ('/api/patients', ['q', 'limit', 'offset']),
    ('/api/doctors/{doctor}/slots', ['from', 'to']),
    ('/api/time-off', ['limit', 'offset']),
]


@pytest.fixture(scope='module')
def actors(base_url):
    users = {role: create_user(base_url, role) for role in ('patient', 'doctor', 'admin')}
    users['anon'] = Client(base_url)
    appt = users['patient'].post('/api/appointments', {
        'doctor_id': users['doctor'].user['id'], 'date': DAY, 'time': '10:00'}).json
    future = users['patient'].post('/api/appointments', {
        'doctor_id': users['doctor'].user['id'], 'date': DAY, 'time': '11:00'}).json
    with database.connection_context():
        Appointment.update(date=datetime.date.today()).where(Appointment.id == appt['id']).execute()
    time_off = users['admin'].post('/api/time-off', {'doctor_id': users['doctor'].user['id'],
                                                     'start_date': DAY}).json
    ids = {'appt': appt['id'], 'future': future['id'], 'doctor': users['doctor'].user['id'],
           'spare_doctor': create_user(base_url, 'doctor').user['id'],
           'time_off': time_off['id']}
    return users, ids


def snapshot():
    """What a refused request must leave alone: how many users and
    appointments exist, and every column a request could change on the
    newest rows (the fuzzing actors' own, created last)."""
    with database.connection_context():
        counts = (User.select().count(), Appointment.select().count(), TimeOff.select().count())
        users = list(User.select(User.id, User.email, User.name, User.reminders_enabled,
                                 User.password_hash, User.role, User.specialization,
                                 User.active, User.slot_minutes)
                     .order_by(User.id.desc()).limit(50).tuples())
        appts = list(Appointment.select(Appointment.id, Appointment.status, Appointment.date,
                                        Appointment.time, Appointment.reason, Appointment.doctor,
                                        Appointment.minutes, Appointment.cancel_reason)
                     .order_by(Appointment.id.desc()).limit(50).tuples())
        hours = list(WorkingHours.select(WorkingHours.id, WorkingHours.doctor,
                                         WorkingHours.weekday, WorkingHours.start,
                                         WorkingHours.end)
                     .order_by(WorkingHours.id.desc()).limit(50).tuples())
    return counts, users, appts, hours


def assert_clear_4xx(resp, context):
    assert 400 <= resp.status < 500, (context, resp)
    body = resp.json
    assert isinstance(body.get('error'), str) and body['error'], (context, resp)
    assert 'Traceback' not in resp.text and 'File "' not in resp.text


def hostile_bodies(fields, rng):
    for field in fields:
        for value in HOSTILE_VALUES:
            yield {field: value}
    for _ in range(20):  # random mixtures
        yield {f: rng.choice(HOSTILE_VALUES) for f in fields if rng.random() < 0.7}


@pytest.mark.parametrize('method,path,fields,role', ENDPOINTS,
                         ids=[f'{m} {p} as {r}' for m, p, _, r in ENDPOINTS])
def test_hostile_json_bodies_never_500_and_refusals_change_nothing(actors, method, path, fields,
                                                                   role):
    """Some hostile-looking values are valid (a diagnosis may read
    "<script>"; it is escaped on output): those may succeed. Everything
    else must be a clear 4xx that leaves every record as it was."""
    users, ids = actors
    client = users[role]
    path = path.format(**ids)
    rng = random.Random(path + role)
    bodies = [('json', body) for body in hostile_bodies(fields, rng)]
    bodies += [('raw', raw) for raw in RAW_BODIES]
    for kind, body in bodies:
        before = snapshot()
        if kind == 'json':
            resp = client.request(method, path, json_body=body)
        else:
            resp = client.request(method, path, data=body,
                                  headers={'Content-Type': 'application/json'})
        context = body if len(repr(body)) < 300 else 'large body'
        assert resp.status < 500, (context, resp)
        if resp.status >= 400:
            assert_clear_4xx(resp, context)
            assert snapshot() == before, context


def test_oversized_body_is_413(actors):
    users, _ = actors
    resp = users['anon'].request('POST', '/api/register', data=b'{"name": "' + b'a' * 2_000_000 + b'"}',
                                 headers={'Content-Type': 'application/json'})
    assert resp.status == 413 and 'larger' in resp.json['error']


def test_wrong_content_type_is_415(actors):
    users, _ = actors
    resp = users['anon'].request('POST', '/api/login', data='email=a&password=b',
                                 headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert resp.status == 415


@pytest.mark.parametrize('path,params', QUERY_ENDPOINTS, ids=[p for p, _ in QUERY_ENDPOINTS])
def test_hostile_query_strings_answer_4xx_or_an_empty_page(actors, path, params):
    users, ids = actors
    path = path.format(**ids)
    values = ['-1', 'abc', '99999999999999999999999', '2026-02-30', '%00', '%ff%fe', "'%20OR%201=1",
              'x' * 5000, '1e9', '9999-12-31', '0001-01-01', '%EF%BC%91', '%C2%B2',
              '%D9%A3%D9%A3']
    for param in params:
        for value in values:
            resp = users['admin'].get(f'{path}?{param}={value}')
            assert resp.status in (200, 400), (param, value, resp)
            if resp.status == 200:
                assert isinstance(resp.json['items'], list)
            else:
                assert param in resp.json['error']


def test_huge_or_odd_ids_in_paths_are_404(actors):
    users, _ = actors
    for suffix in ('99999999999999999999999', '0', '-5', 'abc', '1.5', '%2e%2e'):
        resp = users['admin'].get(f'/api/appointments/{suffix}')
        assert resp.status == 404, (suffix, resp)
        resp = users['doctor'].post(f'/api/appointments/{suffix}/no-show')
        assert resp.status == 404, (suffix, resp)
        for method, path in (('GET', '/api/doctors/{}/hours'), ('PUT', '/api/doctors/{}/hours'),
                             ('GET', '/api/doctors/{}/slots'), ('PUT', '/api/doctors/{}'),
                             ('DELETE', '/api/time-off/{}'),
                             ('POST', '/api/appointments/{}/reschedule'),
                             ('POST', '/api/appointments/{}/cancel')):
            resp = users['admin'].request(method, path.format(suffix), json_body={})
            assert resp.status == 404, (method, path, suffix, resp)


@pytest.mark.parametrize('key', ['weekday', 'start', 'end'])
def test_hostile_values_inside_working_hours_never_500(actors, key):
    users, ids = actors
    path = f"/api/doctors/{ids['doctor']}/hours"
    for value in HOSTILE_VALUES + [{'weekday': 0}, [[[[]]]]]:
        before = snapshot()
        item = {'weekday': 0, 'start': '09:00', 'end': '17:00', key: value}
        resp = users['doctor'].put(path, {'slot_minutes': 30, 'hours': [item]})
        context = value if len(repr(value)) < 300 else 'large value'
        assert resp.status in (200, 400, 413), (context, resp)
        if resp.status == 400:
            assert resp.json['error'].startswith('hours[0]'), (context, resp)
        if resp.status != 200:
            assert snapshot() == before, context
    for nested in ([item] * 10_000, [[item]], [None], 'hours', {'0': item}):
        resp = users['doctor'].put(path, {'hours': nested})
        assert 400 <= resp.status < 500, resp


def test_the_ends_of_the_calendar_never_500(actors):
    """The first and last days a date can name: refused with a message
    naming the field, never a crash in date arithmetic (a day after
    9999-12-31 cannot be computed); the last accepted years still work."""
    users, ids = actors
    doctor = ids['doctor']
    for first, last in (('9999-12-25', '9999-12-31'), ('0001-01-01', '0001-01-07'),
                        ('9999-12-31', '9999-12-31')):
        resp = users['patient'].get(f'/api/doctors/{doctor}/slots?from={first}&to={last}')
        assert resp.status == 400 and resp.json == {
            'error': 'from: must be between 1900-01-01 and 2999-12-31'}, resp
    resp = users['patient'].get(f'/api/doctors/{doctor}/slots?from=2999-12-25&to=2999-12-31')
    assert resp.status == 200 and resp.json['items'] == [], resp
    for query in ('from=0001-01-01', 'to=9999-12-31'):
        resp = users['admin'].get('/api/audit?' + query)
        assert resp.status == 400 and 'must be between' in resp.json['error'], resp
        assert users['admin'].get('/admin/audit?' + query).status in (200, 400)
    for date in ('9999-12-31', '0001-01-01'):
        resp = users['admin'].get('/reception?date=' + date)
        assert resp.status in (200, 400) and 'must be between' in resp.text, resp
    assert users['admin'].get('/reception?date=2999-12-31').status == 200
    for date in ('9999-12-31', '0001-01-01'):
        for client, extra in ((users['patient'], {}),
                              (users['admin'], {'patient_id': users['patient'].user['id'],
                                                'override': True})):
            resp = client.post('/api/appointments', {'doctor_id': doctor, 'date': date,
                                                     'time': '23:30', **extra})
            assert resp.status in (400, 409), (date, extra, resp)
            resp = client.post(f"/api/appointments/{ids['future']}/reschedule",
                               {'date': date, 'time': '23:30', **extra})
            assert resp.status in (400, 409), (date, extra, resp)
        resp = users['admin'].post('/api/time-off', {'doctor_id': doctor, 'start_date': date,
                                                     'start_time': '23:00', 'end_time': '23:59'})
        assert resp.status in (201, 400), (date, resp)
        if resp.status == 201:
            assert users['admin'].delete(f"/api/time-off/{resp.json['id']}").status == 200


def test_json_nested_thirty_thousand_deep_is_a_400(actors):
    users, _ = actors
    for deep in (b'[' * 30_000 + b']' * 30_000, b'{"a":' * 10_000 + b'1' + b'}' * 10_000):
        resp = users['admin'].request('POST', '/api/patients', data=deep,
                                      headers={'Content-Type': 'application/json'})
        assert resp.status == 400, resp
        assert resp.json['error'] == 'body: JSON nested too deeply'
        assert resp.headers['X-Frame-Options'] == 'DENY'


def test_a_lone_surrogate_echoed_in_an_error_answers_our_json_with_the_headers(actors):
    users, _ = actors
    body = json.dumps(report_body(recipients=['\ud800@x.io'])).encode()
    assert b'\\ud800' in body
    resp = users['admin'].request('POST', '/api/reports', data=body,
                                  headers={'Content-Type': 'application/json'})
    assert resp.status == 400, resp
    assert resp.json['error'].startswith('recipients:')
    assert 'Critical error' not in resp.text
    assert resp.headers['X-Content-Type-Options'] == 'nosniff'


def test_non_ascii_digits_in_paging_and_ids_are_refused(actors):
    users, ids = actors
    for query in ('limit=٥', 'offset=１', 'limit=²', 'offset=1_0', 'limit=%20٣'):
        resp = users['admin'].get('/api/patients?' + query.replace('٥', '%D9%A5')
                                  .replace('１', '%EF%BC%91').replace('²', '%C2%B2')
                                  .replace('٣', '%D9%A3'))
        assert resp.status == 400, (query, resp)
    resp = users['patient'].get('/api/appointments/%D9%A1')
    assert resp.status == 404, resp


@pytest.mark.parametrize('name, value', [
    ('PORT', '٨٠٨٠'), ('WORKERS', '２'), ('BACKUP_KEEP', '1_0'), ('REMINDER_TIME', '٠٨:٠٠'),
    ('BACKUP_TIME', '０２:３０'), ('QUEUE_POLL_MIN', 'nan'), ('SHUTDOWN_TIMEOUT', 'inf'),
    ('HEARTBEAT_SECONDS', '٥')])
def test_settings_take_ascii_digits_only(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load(base_env(tmp_path, **{name: value}))


def test_what_escapes_bottle_answers_our_500_with_the_security_headers(settings):
    """A failure outside any route (here a hook) gets our JSON or page, not
    Bottle's "Critical error" page without the headers."""
    app = create_app(settings)

    @app.hook('before_request')
    def _fail():
        raise RuntimeError('a bug outside any route')
    server = ServerThread(app).start()
    try:
        for path, kind in (('/api/me', 'application/json'), ('/login', 'text/html')):
            resp = Client(server.url).get(path)
            assert resp.status == 500, resp
            assert resp.headers['Content-Type'].startswith(kind)
            assert resp.headers['X-Frame-Options'] == 'DENY'
            assert b'Critical error' not in resp.body and b'Traceback' not in resp.body
    finally:
        server.stop()


def test_a_path_with_bytes_that_are_not_utf8_is_a_404_not_another_name(actors):
    users, ids = actors
    for path in (f"/api/appointments/{ids['appt']}%ED%A0%80", f"/api/appointments/{ids['appt']}%FF",
                 '/login%C0'):
        resp = users['patient'].get(path)
        assert resp.status == 404, (path, resp)
        assert resp.headers['X-Frame-Options'] == 'DENY'
