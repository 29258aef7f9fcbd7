"""SPEC §7 bar (issue 16): every route of the app, called by every role with
hostile input, answers without a 5xx, with the security headers, and a
refused request changes no record. Routes are read from app.routes, so a new
route is covered without editing this file. Requests go straight to the WSGI
app (no sockets) to keep thousands of them within a minute."""
import concurrent.futures
import datetime
import hashlib
import io
import json
import random
import re
import zlib
from http.cookies import SimpleCookie
from urllib.parse import quote

import pytest

from app.factory import create_app
from app.models import (Appointment, Export, MonthlyReport, OutboxMessage, PasswordLink,
                        ReportExecution, ScheduledReport, TimeOff, Treatment, TreatmentVersion,
                        User, WorkingHours)
from app.web.access import SECURITY_HEADERS
from app.auth import hash_password
from tests.conftest import PASSWORD

ROLES = ('anonymous', 'patient', 'doctor', 'reception', 'admin')
# What a refused request must leave as it was. Sessions, login failures and
# the audit trail are left out: reading a page is audited, a refusal counted.
WATCHED = (User, Appointment, WorkingHours, TimeOff, Treatment, TreatmentVersion, OutboxMessage,
           Export, ScheduledReport, ReportExecution, MonthlyReport, PasswordLink)
# Field names the app's forms and JSON bodies use; each hostile body sets
# them all, so whatever a route reads, it reads something hostile.
FIELDS = ('email', 'password', 'new_password', 'current_password', 'name', 'phone',
          'date_of_birth', 'doctor_id', 'patient_id', 'date', 'time', 'start_date', 'end_date',
          'start_time', 'end_time', 'reason', 'minutes', 'slot_minutes', 'hours', 'override',
          'diagnosis', 'treatment', 'prescription', 'enabled', 'active', 'role',
          'specialization', 'recipients', 'month', 'title', 'format', 'frequency', 'weekday',
          'time_of_day', 'day', 'week', 'status', 'q', 'next', 'otp', 'token', 'from', 'to',
          'limit', 'offset', 'kind', 'note', 'notes', 'reminders')
QUERY_FIELDS = ('limit', 'offset', 'date', 'day', 'week', 'from', 'to', 'month', 'doctor_id',
                'patient_id', 'q', 'status', 'next', 'user_id', 'doctor', 'patient', 'page')
UNICODE_DIGITS = ('١٢', '１', '²', '٠٩:٣٠', '２０３０-０１-０１', '𝟗')
# One value of each hostile class, cycled over the fields of a body.
HOSTILE = ('٠٩:٣٠', '\ud800', None, [], {}, True, -1, 2 ** 70, 1e308, '\x00', 'x' * 3000,
           '1_000', ' 7 ', '2030-02-30', '24:00', 'Bcc:evil@x.io', 'a@b.c\r\nBcc: e@x.io',
           '２０３０-０１-０１', '１', '𝟗', '9999-12-31', '0001-01-01')
# The calendar's ends: a day before or after them cannot be computed.
EDGE_DATES = ('date=9999-12-31&day=9999-12-31&week=9999-12-31&from=0001-01-01&to=9999-12-31'
              '&month=9999-12', 'date=0001-01-01&day=0001-01-01&week=0001-01-01'
              '&from=9999-12-31&to=0001-01-01&month=0001-01')
DEEP = b'[' * 30_000 + b']' * 30_000
RAW_BODIES = (
    ('application/json', DEEP),
    ('application/json', b'{"a": ' * 5_000 + b'1' + b'}' * 5_000),
    ('application/json', b'{"name": "\\ud800", "email": "\\udfff@x.io", "time": "\\u0669:00"}'),
    ('application/json', b'\xff\xfe{"a":1}'),
    ('application/json', b'{"a": "\x00"}'),
    ('application/json', b'[1, 2]'),
    ('text/plain', b'{"a": 1}'),
    ('application/x-www-form-urlencoded', b'name=%ED%A0%80&time=%D9%A0%D9%A9:00&a=%00'),
    ('application/x-www-form-urlencoded', b'&'.join([b'q=%FF'] * 500)),
    ('multipart/form-data; boundary=x', b'--x\r\nContent-Disposition: form-data\r\n\r\n'),
)
BAD_COOKIES = ('consent={"a":1}; ', 'a="unterminated; ', '\x7f=\x01; ', 'session=; ')


def checksum():
    digest = hashlib.sha256()
    for model in WATCHED:
        for row in model.select().order_by(model._meta.primary_key).tuples().iterator():
            digest.update(repr(row).encode('utf-8', 'backslashreplace'))
    return digest.hexdigest()


class Caller:
    """A WSGI request to the app as one actor (cookie and CSRF token)."""

    def __init__(self, app):
        self.app = app
        # The app closes its connection after each request: it runs on a
        # thread of its own, as under Waitress, so the test's stays open.
        self.thread = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def __call__(self, *args, **kwargs):
        return self.thread.submit(self._call, *args, **kwargs).result()

    def _call(self, method, path, query='', body=b'', content_type=None, cookie='',
                 headers=None, address='192.0.2.7'):
        environ = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
                   'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80', 'SERVER_PROTOCOL': 'HTTP/1.1',
                   'REMOTE_ADDR': address, 'wsgi.url_scheme': 'http', 'wsgi.version': (1, 0),
                   'wsgi.input': io.BytesIO(body), 'wsgi.errors': io.StringIO(),
                   'wsgi.multithread': True, 'wsgi.multiprocess': False,
                   'wsgi.run_once': False, 'CONTENT_LENGTH': str(len(body)),
                   'HTTP_HOST': '127.0.0.1', 'HTTP_COOKIE': cookie}
        if content_type:
            environ['CONTENT_TYPE'] = content_type
        for name, value in (headers or {}).items():
            environ['HTTP_' + name.upper().replace('-', '_')] = value
        started = {}

        def start_response(status, response_headers, exc_info=None):
            started['status'] = int(status.split()[0])
            started['headers'] = dict(response_headers)

        chunks = self.app(environ, start_response)
        body = b''.join(chunks)
        if hasattr(chunks, 'close'):
            chunks.close()
        return started['status'], started['headers'], body


class Actor:
    def __init__(self, role, email=None):
        self.role, self.email = role, email
        self.cookie, self.csrf = '', ''

    def login(self, call):
        if self.email is None:
            return self
        status, headers, body = call('POST', '/api/login', body=json.dumps(
            {'email': self.email, 'password': PASSWORD}).encode(),
            content_type='application/json', address='127.0.0.1')
        assert status == 200, body
        self.csrf = json.loads(body)['csrf_token']
        jar = SimpleCookie(headers['Set-Cookie'])
        self.cookie = '; '.join(f'{k}={v.value}' for k, v in jar.items())
        return self

    def still_in(self, call):
        return self.email is None or call('GET', '/api/me', cookie=self.cookie)[0] == 200


@pytest.fixture
def site(own_db):
    import tasks  # noqa: F401  (the views enqueue these)
    app = create_app(own_db)
    call = Caller(app)
    actors = {role: Actor(role, None if role == 'anonymous' else _make(role)) for role in ROLES}
    for actor in actors.values():
        actor.login(call)
    ids = _seed(actors)
    return app, call, actors, ids


def _make(role, tag='fuzz'):
    """A user of `role` in the test's own database; its email."""
    email = f'{tag}-{role}@example.test'
    user = User.create(email=email, password_hash=hash_password(PASSWORD), name=f'Fuzz {role}',
                       role=role)
    if role == 'doctor':
        WorkingHours.insert_many([{'doctor': user.id, 'weekday': day, 'start': '09:00',
                                   'end': '17:00'} for day in range(7)]).execute()
    return email


def _seed(actors):
    """Real ids for path parameters, so a hostile body meets a real record."""
    users = {a.role: User.get(User.email == a.email) for a in actors.values() if a.email}
    day = datetime.date.today() + datetime.timedelta(days=20)
    appointment = Appointment.create(patient=users['patient'], doctor=users['doctor'], date=day,
                                     time='10:00', status='booked')
    time_off = TimeOff.create(doctor=users['doctor'], start_date=day, end_date=day)
    # Accounts an admin may re-invite (which ends their password) are spares.
    spare_patient = User.get(User.email == _make('patient', 'spare'))
    spare_staff = User.get(User.email == _make('reception', 'spare'))
    return {'appointment_id': appointment.id, 'doctor_id': users['doctor'].id,
            'patient_id': spare_patient.id, 'staff_id': spare_staff.id,
            'entry_id': time_off.id}


def _path(rule, ids, hostile_id=None):
    """The rule with every parameter filled: real ids, or `hostile_id`
    (already URL-encoded, as a browser would send it) in every int slot."""
    def fill(match):
        name, _, kind = match.group(1).partition(':')
        if kind == 'int':
            return hostile_id if hostile_id is not None else str(ids.get(name, 1))
        if kind == 'path':
            return 'app.css'
        return hostile_id if hostile_id is not None else 'abc'
    return re.sub(r'<([^>]+)>', fill, rule)


def _wsgi_path(url_path):
    """PATH_INFO as a WSGI server gives it: the %-decoded bytes as latin-1."""
    raw = re.sub(rb'%([0-9A-Fa-f]{2})', lambda m: bytes([int(m.group(1), 16)]),
                 url_path.encode('utf-8'))
    return raw.decode('latin-1')


def _hostile_body(rng, api):
    values = list(HOSTILE)
    rng.shuffle(values)
    data = {field: values[i % len(values)] for i, field in enumerate(FIELDS)}
    if api:
        return 'application/json', json.dumps(data).encode()
    form = '&'.join(f'{k}={quote(str(v), safe="")}' for k, v in data.items()
                    if isinstance(v, str) and '\ud800' not in v)
    return 'application/x-www-form-urlencoded', form.encode()


def _hostile_query(rng):
    pairs = [(name, rng.choice(UNICODE_DIGITS + ('%ED%A0%80', '%00', '%FF', 'x' * 5000)))
             for name in QUERY_FIELDS]
    pairs += [('limit', '5'), ('limit', '٥')]  # repeated: the last wins
    return '&'.join(f'{k}={v if v.startswith("%") else quote(v, safe="")}' for k, v in pairs)


def requests_for(route, actor, ids):
    """A deterministic sample of hostile requests for one route and actor."""
    rng = random.Random(zlib.crc32(f'{route.method} {route.rule} {actor.role}'.encode()))
    api = route.rule.startswith('/api/')
    method = route.method if route.method != 'ANY' else 'GET'
    unsafe = method not in ('GET', 'HEAD')
    path = _path(route.rule, ids)
    csrf = {'X-CSRF-Token': actor.csrf} if actor.csrf else {}
    if '<' in route.rule:
        odd_ids = rng.sample(UNICODE_DIGITS, 2) + [rng.choice(('%ED%A0%80', '99999999999999'))]
        for hostile_id in odd_ids:
            yield dict(method=method, path=_path(route.rule, ids, quote(hostile_id, safe='%')),
                       headers=csrf)
    yield dict(method=method, path=path, query=_hostile_query(rng), headers=csrf)
    for query in EDGE_DATES:
        yield dict(method=method, path=path, query=query, headers=csrf)
    yield dict(method=method, path=path, cookie=rng.choice(BAD_COOKIES), headers=csrf)
    if not unsafe:
        return
    content_type, body = _hostile_body(rng, api)
    if not api and actor.csrf:
        body += b'&csrf_token=' + actor.csrf.encode()
    yield dict(method=method, path=path, body=body, content_type=content_type, headers=csrf)
    yield dict(method=method, path=path, body=body, content_type=content_type)  # no CSRF
    for content_type, body in rng.sample(RAW_BODIES, 2):
        yield dict(method=method, path=path, body=body, content_type=content_type, headers=csrf)


class Records:
    """The watched tables' checksum, recomputed after each unsafe request."""

    def __init__(self):
        self.last = checksum()

    def changed(self):
        now = checksum()
        changed, self.last = now != self.last, now
        return changed


def _check(call, rule, actor, request, records, problems):
    """Send one request; note a 5xx, missing headers or a refused change."""
    unsafe = request['method'] not in ('GET', 'HEAD')
    cookie = request.pop('cookie', '') + actor.cookie
    status, headers, body = call(path=_wsgi_path(request.pop('path')), cookie=cookie, **request)
    where = f'{actor.role} {request["method"]} {rule} cookie {cookie[:12]!r}'
    sent = f'{request}'[:300]
    # /healthz answers 503 by contract while no worker runs.
    if status >= 500 and not (rule == '/healthz' and status == 503):
        problems.append(f'{status} for {where} {sent}: {body[:200]!r}')
    missing = [name for name in SECURITY_HEADERS if name not in headers]
    if missing:
        problems.append(f'no {missing} on {status} for {where} {sent}')
    if unsafe and records.changed() and status >= 400:
        problems.append(f'refused with {status} but records changed: {where} {sent}')


def fuzz(app, call, actors, ids, routes=None):
    problems, records = [], Records()
    for route in routes or app.routes:
        if route.rule.startswith('/static/'):
            continue
        for role in ROLES:
            actor = actors[role]
            for request in requests_for(route, actor, ids):
                _check(call, route.rule, actor, request, records, problems)
                if len(problems) > 30:
                    return problems
            if not actor.still_in(call):  # a logout that was let through
                actor.login(call)
    return problems


CLOCK_TIME = re.compile(r'([01][0-9]|2[0-3]):[0-5][0-9]')
STORED_TIMES = ((Appointment, ('time', 'rescheduled_from_time')), (WorkingHours, ('start', 'end')),
                (TimeOff, ('start_time', 'end_time')), (ScheduledReport, ('time',)))


def odd_stored_times():
    """Clock times a later job would fail to read (a '٠٩:٣٠' let through)."""
    odd = []
    for model, fields in STORED_TIMES:
        for row in model.select():
            odd += [f'{model.__name__} {row.id} {name}={getattr(row, name)!r}' for name in fields
                    if getattr(row, name) is not None
                    and not CLOCK_TIME.fullmatch(getattr(row, name))]
    return odd


def test_every_route_survives_hostile_input_from_every_role(site):
    app, call, actors, ids = site
    problems = fuzz(app, call, actors, ids)
    assert not problems, '\n'.join(problems)
    assert not odd_stored_times()


def test_the_fuzz_fails_when_a_route_answers_500(site):
    app, call, actors, ids = site

    def broken():
        raise AssertionError('a bug')
    app.route('/api/broken-on-purpose', 'POST', broken, roles=None)
    route = next(r for r in app.routes if r.rule == '/api/broken-on-purpose')
    problems = fuzz(app, call, actors, ids, routes=[route])
    assert any(p.startswith('500 ') for p in problems), problems
