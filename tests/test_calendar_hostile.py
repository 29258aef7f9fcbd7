"""The calendar's pages under hostile input (SPEC §8): every form and query
of the booking week view, the reschedule page, the hours editor, time off
and a doctor's edit page, sent missing fields, wrong types, 100 KB strings,
control characters, invalid UTF-8, non-ASCII digits and the ends of the
calendar. Each answers a 4xx page that says what is wrong, next to the
field where the page has one; never a 500, and nothing in the database
changes."""
import datetime
import re
import uuid
from urllib.parse import quote

import pytest

from app.db import database
from app.models import Appointment, AuditEvent, OutboxMessage, TimeOff, User, WorkingHours
from tests.calendar_site import day, reception, site
from tests.client import Client
from tests.conftest import create_user
from tests.test_pages import field_error, location

DAY = datetime.timedelta(days=1)
# This module's app stands still at a Monday 08:10 (the test zone is UTC),
# so its booking window is the same from the first test to the last, even
# in a run that crosses midnight.
NOW = datetime.datetime(2032, 3, 1, 8, 10, tzinfo=datetime.timezone.utc)


class Raw(str):
    """A value put into a query or form body as it is: already
    percent-encoded bytes that no str can hold (a lone surrogate)."""


SURROGATE = Raw('%ED%A0%80')
LATIN1 = Raw('%FF%FE')
HUGE = 'x' * 100_000
CONTROL = 'a\x00b\x07\x1b[31m'

DATES = ['٢٠٣٠-٠١-٠٢', '２０３０-０１-０２', '²⁰³⁰-⁰¹-⁰²', '0001-01-01', '9999-12-31',
         '2026-02-30', '2030-13-01', '02/01/2030', '2030-1-2', HUGE, CONTROL, SURROGATE, LATIN1]
TIMES = ['٠٩:٠٠', '０９:００', '⁰⁹:⁰⁰', '24:00', '9:00', '09:00:00', '99:99', '-1', ' ',
         HUGE, CONTROL, SURROGATE]
NUMBERS = ['٣٠', '３０', '³⁰', '30.5', '1e3', '-30', '0', '4', '241', str(2**40),
           '9' * 40, HUGE, CONTROL, SURROGATE]
IDS = ['٣', '３', '¹', '0', '-1', str(2**40), '9' * 40, '1.5', 'abc', HUGE, CONTROL, SURROGATE,
       '{patient}', '{inactive}']
TEXTS = [HUGE, CONTROL, SURROGATE]
# The hours form's buttons: 'save', 'add-<day>', 'remove-<day>-<row>'.
ACTIONS = ['', 'add-7', 'add--1', 'add-٣', 'remove-٠-٠', 'remove-0-9', 'add-' + '9' * 5000,
           'remove-0-' + '9' * 5000, 'delete', HUGE, CONTROL, SURROGATE]
TYPES = {'date': DATES, 'time': TIMES, 'number': NUMBERS, 'id': IDS, 'text': TEXTS,
         'action': ACTIONS}


def encode(fields):
    """A urlencoded body or query: (name, value) pairs, Raw values as given."""
    items = fields.items() if isinstance(fields, dict) else fields
    return '&'.join(f'{quote(name)}={value if isinstance(value, Raw) else quote(value)}'
                    for name, value in items)


def shown(value):
    return value if len(value) < 60 else f'{value[:20]}…({len(value)} chars)'


@pytest.fixture(scope='module')
def base_url(settings):
    with site(settings, NOW) as server:
        yield server.url


@pytest.fixture(scope='module')
def actors(base_url, settings):
    """Everyone the forms are sent as, and the records they point at."""
    today = NOW.date()
    people = {role: create_user(base_url, role, name=f'Hostile {role}')
              for role in ('patient', 'doctor', 'admin')}
    people['other_patient'] = create_user(base_url, 'patient', name='Other Patient')
    people['spare'] = create_user(base_url, 'doctor', name='Dr Spare')
    people['edited'] = create_user(base_url, 'doctor', name='Dr Edited')
    people['reception'] = reception(base_url)
    inactive = create_user(base_url, 'doctor', name='Dr Gone')
    doctor_id = people['doctor'].user['id']

    def book(client, offset, time):
        resp = client.post('/api/appointments', {'doctor_id': doctor_id, 'time': time,
                                                 'date': (today + offset * DAY).isoformat()})
        assert resp.status == 201, resp
        return resp.json['id']

    ids = {'today': today, 'doctor': doctor_id, 'spare': people['spare'].user['id'],
           'edited': people['edited'].user['id'], 'inactive': inactive.user['id'],
           'patient': people['patient'].user['id'],
           'appt': book(people['patient'], 10, '10:00'),
           'other_appt': book(people['other_patient'], 10, '11:00')}
    own = people['doctor'].post('/api/time-off', {'start_date': (today + 30 * DAY).isoformat()})
    theirs = people['admin'].post('/api/time-off', {'doctor_id': ids['spare'],
                                                    'start_date': (today + 31 * DAY).isoformat()})
    closure = people['admin'].post('/api/time-off', {
        'doctor_id': None, 'start_date': (ids['today'] + 32 * DAY).isoformat(),
        'start_time': '16:00', 'end_time': '17:00'})
    assert own.status == theirs.status == closure.status == 201
    ids.update(own_off=own.json['id'], spare_off=theirs.json['id'], closure=closure.json['id'])
    assert people['admin'].put(f'/api/doctors/{ids["inactive"]}',
                               {'active': False}).status == 200
    return people, ids


def snapshot(ids):
    """Every row the calendar's forms can write, for the actors' records."""
    doctors = [ids[k] for k in ('doctor', 'spare', 'edited', 'inactive')]
    with database.connection_context():
        appts = list(Appointment.select(Appointment.id, Appointment.doctor, Appointment.patient,
                                        Appointment.date, Appointment.time,
                                        Appointment.minutes, Appointment.status,
                                        Appointment.reason, Appointment.cancel_reason,
                                        Appointment.rescheduled_from_date)
                     .where(Appointment.doctor.in_(doctors)).order_by(Appointment.id).tuples())
        hours = list(WorkingHours.select(WorkingHours.doctor, WorkingHours.weekday,
                                         WorkingHours.start, WorkingHours.end)
                     .where(WorkingHours.doctor.in_(doctors))
                     .order_by(WorkingHours.id).tuples())
        people = list(User.select(User.id, User.name, User.specialization, User.active,
                                  User.slot_minutes)
                      .where(User.id.in_(doctors)).order_by(User.id).tuples())
        counts = (TimeOff.select().count(), Appointment.select().count(),
                  OutboxMessage.select().count(),
                  AuditEvent.select().where(AuditEvent.action != 'appointment.view').count())
    return appts, hours, people, counts


def assert_refused(resp, ids, before, context, field=None):
    """A 4xx HTML page with a message, nothing changed; the message by the
    field when the page has that field."""
    assert 400 <= resp.status < 500, (context, resp.status, resp.text[:3000])
    text = resp.text
    assert resp.headers['Content-Type'].startswith('text/html'), context
    assert 'Traceback' not in text and 'File "' not in text, context
    assert 'field-error' in text or 'role="alert"' in text or 'error-page' in text, \
        (context, text[:3000])
    if field and f'name="{field}"' in text and resp.status == 400:
        assert field_error(text, field) or 'role="alert"' in text, (context, text[:3000])
    assert snapshot(ids) == before, context


def hours_fields(slot_minutes='30'):
    fields = {'slot_minutes': slot_minutes, 'action': 'save'}
    for weekday in range(7):
        fields[f'start-{weekday}-0'], fields[f'end-{weekday}-0'] = '08:00', '12:00'
    return fields


def forms(ids):
    """(who, path, a submission that would succeed, {field: kind}) per form."""
    later = (ids['today'] + 12 * DAY).isoformat()
    move = f'/appointments/{ids["appt"]}/reschedule'
    off = {'start_date': (ids['today'] + 40 * DAY).isoformat(), 'end_date': '',
           'start_time': '', 'end_time': '', 'reason': ''}
    times = {'start_date': 'date', 'end_date': 'date', 'start_time': 'time',
             'end_time': 'time', 'reason': 'text'}
    return {
        'book': ('patient', '/patient/appointments',
                 {'doctor_id': str(ids['doctor']), 'date': later, 'time': '14:00', 'reason': ''},
                 {'doctor_id': 'id', 'date': 'date', 'time': 'time', 'reason': 'text'}),
        'reschedule as patient': ('patient', move, {'date': later, 'time': '15:00'},
                                  {'date': 'date', 'time': 'time', 'doctor_id': 'id'}),
        'reschedule as admin': ('admin', move,
                                {'date': later, 'time': '15:00', 'doctor_id': str(ids['spare'])},
                                {'date': 'date', 'time': 'time', 'doctor_id': 'id',
                                 'override': 'text'}),
        'own hours': ('doctor', '/doctor/hours', hours_fields(),
                      {'slot_minutes': 'number', 'start-0-0': 'time', 'end-0-0': 'time',
                       'action': 'action'}),
        'hours as admin': ('admin', f'/admin/doctors/{ids["doctor"]}/hours', hours_fields(),
                           {'slot_minutes': 'number', 'start-3-0': 'time', 'end-6-0': 'time',
                            'action': 'action'}),
        'time off as admin': ('admin', '/admin/time-off', {'doctor_id': str(ids['doctor']), **off},
                              {'doctor_id': 'id', **times}),
        'time off as doctor': ('doctor', '/doctor/time-off', off, times),
        'doctor edit': ('admin', f'/admin/doctors/{ids["edited"]}',
                        {'name': 'Dr Edited', 'specialization': 'General practice',
                         'active': 'on'},
                        {'name': 'text', 'specialization': 'text', 'active': 'text'}),
    }


FORM_NAMES = ['book', 'reschedule as patient', 'reschedule as admin', 'own hours',
              'hours as admin', 'time off as admin', 'time off as doctor', 'doctor edit']


def post_form(client, path, fields, token=True):
    body = encode(fields)
    if token:
        body += '&csrf_token=' + quote(client.csrf_token)
    return client.request('POST', path, data=body, csrf=False,
                          headers={'Content-Type': 'application/x-www-form-urlencoded'})


def hostile_values(kind, ids):
    for value in TYPES[kind]:
        if isinstance(value, str) and not isinstance(value, Raw) and '{' in value:
            value = value.format(**ids)
        yield value


@pytest.mark.parametrize('name', FORM_NAMES)
def test_every_field_of_every_calendar_form_refuses_hostile_values(actors, name):
    people, ids = actors
    role, path, good, fields = forms(ids)[name]
    client = people[role]
    failures = []
    for field, kind in fields.items():
        for value in hostile_values(kind, ids):
            before = snapshot(ids)
            resp = post_form(client, path, {**good, field: value})
            try:
                assert_refused(resp, ids, before, (name, field, shown(value)), field)
            except AssertionError as exc:
                failures.append(str(exc).split("\n")[0][:200])
    assert not failures, '\n'.join(failures)


@pytest.mark.parametrize('name', FORM_NAMES)
def test_calendar_forms_with_missing_or_repeated_fields_are_refused(actors, name):
    people, ids = actors
    role, path, good, fields = forms(ids)[name]
    client = people[role]
    before = snapshot(ids)
    assert_refused(post_form(client, path, {}), ids, before, (name, 'empty'))
    for field in fields:
        if field in ('reason', 'end_date', 'start_time', 'end_time', 'doctor_id', 'override',
                     'active', 'action') or field.startswith(('start-', 'end-')):
            continue  # optional: leaving them out is a valid choice
        partial = {k: v for k, v in good.items() if k != field}
        assert_refused(post_form(client, path, partial), ids, before, (name, 'missing', field),
                       field)


@pytest.mark.parametrize('name', FORM_NAMES)
def test_calendar_forms_without_or_with_a_wrong_csrf_token_are_403(actors, name):
    people, ids = actors
    role, path, good, _ = forms(ids)[name]
    client = people[role]
    before = snapshot(ids)
    resp = post_form(client, path, good, token=False)
    assert resp.status == 403 and 'CSRF' in resp.text, resp
    resp = post_form(client, path, {**good, 'csrf_token': 'x' * 43}, token=False)
    assert resp.status == 403 and 'CSRF' in resp.text, resp
    resp = post_form(client, path, {**good, 'csrf_token': SURROGATE}, token=False)
    assert resp.status == 403, resp
    assert snapshot(ids) == before


QUERY_PAGES = [
    ('patient', '/patient?doctor_id={doctor}', ['doctor_id', 'week', 'date', 'time',
                                                 'history_offset']),
    ('patient', '/appointments/{appt}/reschedule?x=1', ['week', 'date', 'time', 'next',
                                                         'doctor_id']),
    ('admin', '/appointments/{appt}/reschedule?x=1', ['doctor_id', 'week', 'date', 'time',
                                                       'next']),
    ('reception', '/appointments/{appt}/reschedule?doctor_id={spare}', ['week', 'date']),
]
QUERY_VALUES = DATES + TIMES + IDS + ['1' * 5000, '//evil.example/x', '/patient' + HUGE,
                                      'javascript:alert(1)', '-1', str(2**40)]


@pytest.mark.parametrize('role,path,params', QUERY_PAGES,
                         ids=[f'{r} {p.split("?")[0]}' for r, p, _ in QUERY_PAGES])
def test_hostile_query_parameters_of_the_week_views_answer_a_page_or_a_clear_400(
        actors, role, path, params):
    people, ids = actors
    client = people[role]
    failures = []
    for param in params:
        for value in QUERY_VALUES:
            if isinstance(value, str) and '{' in value:
                value = value.format(**ids)
            before = snapshot(ids)
            resp = client.get(path.format(**ids) + '&' + encode([(param, value)]))
            context = (role, path, param, shown(value))
            try:
                assert resp.status in (200, 400), (context, resp.status, resp.text[:2000])
                assert 'Traceback' not in resp.text, context
                # A 100 KB parameter must not be copied into every link of the week.
                assert len(resp.body) < 400_000, (context, len(resp.body))
                if resp.status == 400:
                    assert 'field-error' in resp.text or 'role="alert"' in resp.text \
                        or 'error-page' in resp.text, (context, resp.text[:2000])
                assert 'evil.example' not in resp.text.split('<main', 1)[-1].replace(
                    quote('//evil.example/x', safe=''), ''), context
                assert snapshot(ids) == before, context
            except AssertionError as exc:
                failures.append(str(exc).split('\n')[0][:300])
    assert not failures, '\n'.join(failures)


@pytest.mark.parametrize('week', ['0001-01-01', '1970-01-05', '2000-02-29', '9999-12-31',
                                  '9999-12-27', '2100-01-04', '2999-12-31'])
def test_weeks_far_in_the_past_or_future_show_a_bookable_week(actors, week):
    people, ids = actors
    for role, path in (('patient', f'/patient?doctor_id={ids["doctor"]}&week={week}'),
                       ('patient', f'/appointments/{ids["appt"]}/reschedule?week={week}'),
                       ('admin', f'/appointments/{ids["appt"]}/reschedule?week={week}'
                                 f'&doctor_id={ids["spare"]}')):
        resp = people[role].get(path)
        if week[:4] in ('0001', '9999'):  # outside the years a date may name: said so
            assert resp.status == 400, (path, resp)
            assert 'must be between 1900-01-01 and 2999-12-31' in resp.text, path
        else:
            assert resp.status == 200, (path, resp)
        assert 'class="week"' in resp.text and 'week-slot' in resp.text, path
        # Days past the horizon (90 days) are shown but lead nowhere.
        linked = re.findall(r'date=([0-9-]{10})', resp.text)
        assert linked and max(linked) <= (ids['today'] + 90 * DAY).isoformat(), path


# Non-ASCII digits name no record either: '١' (Arabic), '１' (fullwidth), '¹'.
ODD_IDS = ['0', '-1', str(2**31), str(2**40), '9' * 30, '%D9%A1', '%EF%BC%91', '%C2%B9',
           '%ED%A0%80', '1.0', '+1', '01x']


def paths_with_ids(ids):
    """(role, method, path template, a body) of every calendar page with an id."""
    return [
        ('patient', 'GET', '/appointments/{}/reschedule', {}),
        ('patient', 'POST', '/appointments/{}/reschedule', {'date': '2030-01-02', 'time': '10:00'}),
        ('admin', 'GET', '/appointments/{}/reschedule', {}),
        ('admin', 'POST', '/appointments/{}/reschedule', {'date': '2030-01-02', 'time': '10:00'}),
        ('patient', 'POST', '/patient/appointments/{}/cancel', {}),
        ('admin', 'GET', '/admin/doctors/{}', {}),
        ('admin', 'POST', '/admin/doctors/{}', {'name': 'X', 'specialization': 'Y'}),
        ('admin', 'GET', '/admin/doctors/{}/hours', {}),
        ('admin', 'POST', '/admin/doctors/{}/hours', hours_fields()),
        ('admin', 'GET', '/admin/time-off/{}', {}),
        ('admin', 'POST', '/admin/time-off/{}/delete', {}),
        ('doctor', 'GET', '/doctor/time-off/{}', {}),
        ('doctor', 'POST', '/doctor/time-off/{}/delete', {}),
    ]


def send(client, method, path, body):
    if method == 'GET':
        return client.get(path)
    return post_form(client, path, body)


def test_ids_that_cannot_exist_are_404_pages(actors):
    people, ids = actors
    before = snapshot(ids)
    for role, method, template, body in paths_with_ids(ids):
        for odd in ODD_IDS:
            resp = send(people[role], method, template.format(odd), body)
            assert resp.status == 404, (method, template, odd, resp)
            assert resp.headers['Content-Type'].startswith('text/html'), (template, odd)
            assert 'Traceback' not in resp.text
    assert snapshot(ids) == before


def test_another_users_records_are_404_and_stay_as_they_were(actors):
    people, ids = actors
    patient_id = ids['patient']
    before = snapshot(ids)
    cases = [
        ('patient', 'GET', f'/appointments/{ids["other_appt"]}/reschedule', {}),
        ('patient', 'POST', f'/appointments/{ids["other_appt"]}/reschedule',
         {'date': (ids['today'] + 12 * DAY).isoformat(), 'time': '16:00'}),
        ('patient', 'POST', f'/patient/appointments/{ids["other_appt"]}/cancel', {}),
        ('doctor', 'GET', f'/doctor/time-off/{ids["spare_off"]}', {}),
        ('doctor', 'POST', f'/doctor/time-off/{ids["spare_off"]}/delete', {}),
        # A clinic closure is listed to every doctor but is staff's record.
        ('doctor', 'GET', f'/doctor/time-off/{ids["closure"]}', {}),
        ('doctor', 'POST', f'/doctor/time-off/{ids["closure"]}/delete', {}),
        ('doctor', 'GET', f'/admin/doctors/{ids["spare"]}/hours', {}),
        ('doctor', 'POST', f'/admin/doctors/{ids["spare"]}/hours', hours_fields()),
        # Not a doctor at all: the ids of other kinds of account.
        ('admin', 'GET', f'/admin/doctors/{patient_id}', {}),
        ('admin', 'POST', f'/admin/doctors/{patient_id}', {'name': 'X', 'specialization': 'Y'}),
        ('admin', 'GET', f'/admin/doctors/{patient_id}/hours', {}),
        ('admin', 'POST', f'/admin/doctors/{patient_id}/hours', hours_fields()),
    ]
    for role, method, path, body in cases:
        resp = send(people[role], method, path, body)
        assert resp.status == 404, (role, method, path, resp)
        assert 'error-page' in resp.text
    assert snapshot(ids) == before


def test_anonymous_posts_to_calendar_forms_are_401_pages(base_url, actors):
    people, ids = actors
    before = snapshot(ids)
    anon = Client(base_url)
    for role, path, good, _ in forms(ids).values():
        resp = anon.request('POST', path, data=encode(good), csrf=False,
                            headers={'Content-Type': 'application/x-www-form-urlencoded'})
        assert resp.status == 401 and 'error-page' in resp.text, (path, resp)
    assert snapshot(ids) == before


def test_roles_without_the_right_get_403_pages_and_change_nothing(actors):
    people, ids = actors
    before = snapshot(ids)
    cases = [
        ('patient', 'GET', '/doctor/hours'), ('patient', 'GET', '/admin/time-off'),
        ('patient', 'POST', '/admin/time-off'), ('patient', 'GET', f'/admin/doctors/{ids["doctor"]}'),
        ('reception', 'GET', f'/admin/doctors/{ids["doctor"]}/hours'),
        ('reception', 'POST', f'/admin/doctors/{ids["doctor"]}'),
        ('doctor', 'GET', f'/appointments/{ids["appt"]}/reschedule'),
        ('doctor', 'POST', f'/appointments/{ids["appt"]}/reschedule'),
        ('doctor', 'POST', '/admin/time-off'), ('admin', 'POST', '/doctor/time-off'),
        ('doctor', 'POST', '/patient/appointments'),
    ]
    for role, method, path in cases:
        resp = send(people[role], method, path, {'start_date': '2030-01-02'})
        assert resp.status == 403, (role, method, path, resp)
        assert 'error-page' in resp.text
    assert snapshot(ids) == before


def test_booking_an_inactive_doctor_or_moving_to_one_is_refused_by_the_field(actors):
    people, ids = actors
    later = (ids['today'] + 12 * DAY).isoformat()
    before = snapshot(ids)
    resp = people['patient'].get(f'/patient?doctor_id={ids["inactive"]}')
    assert resp.status == 400 and field_error(resp.text, 'doctor_id'), resp
    resp = post_form(people['patient'], '/patient/appointments',
                     {'doctor_id': str(ids['inactive']), 'date': later, 'time': '10:00'})
    assert_refused(resp, ids, before, 'book inactive', 'doctor_id')
    resp = people['admin'].get(f'/appointments/{ids["appt"]}/reschedule'
                               f'?doctor_id={ids["inactive"]}')
    assert resp.status == 400 and field_error(resp.text, 'doctor_id'), resp
    resp = post_form(people['admin'], f'/appointments/{ids["appt"]}/reschedule',
                     {'doctor_id': str(ids['inactive']), 'date': later, 'time': '10:00'})
    assert_refused(resp, ids, before, 'move to inactive', 'doctor_id')
    resp = post_form(people['admin'], '/admin/time-off',
                     {'doctor_id': str(ids['inactive']), 'start_date': later})
    assert_refused(resp, ids, before, 'time off of inactive', 'doctor_id')


def test_the_same_booking_sent_twice_books_once_and_says_why_the_second_failed(
        base_url, actors):
    people, ids = actors
    patient = create_user(base_url, 'patient', name=f'Twice {uuid.uuid4().hex[:4]}')
    day = (ids['today'] + 14 * DAY).isoformat()
    fields = {'doctor_id': str(ids['doctor']), 'date': day, 'time': '09:30', 'reason': ''}
    first = post_form(patient, '/patient/appointments', fields)
    assert first.status == 303 and location(first) == '/patient'
    before = snapshot(ids)
    second = post_form(patient, '/patient/appointments', fields)
    assert_refused(second, ids, before, 'second booking', 'time')
    assert second.status == 409
    assert 'is booked for you already' in field_error(second.text, 'time')
    mine = patient.get('/api/appointments').json['items']
    assert [(a['date'], a['time']) for a in mine] == [(day, '09:30')]


def test_the_same_move_sent_twice_moves_once_and_sends_one_email(base_url, actors):
    people, ids = actors
    patient = create_user(base_url, 'patient', name=f'Mover {uuid.uuid4().hex[:4]}')
    booked = patient.post('/api/appointments', {
        'doctor_id': ids['doctor'], 'date': (ids['today'] + 15 * DAY).isoformat(),
        'time': '09:00'}).json
    path = f'/appointments/{booked["id"]}/reschedule'
    fields = {'date': (ids['today'] + 16 * DAY).isoformat(), 'time': '12:30'}
    assert post_form(patient, path, fields).status == 303
    before = snapshot(ids)
    second = post_form(patient, path, fields)
    assert_refused(second, ids, before, 'second move')
    assert 'at this date and time already' in second.text
    with database.connection_context():
        emails = OutboxMessage.select().where(
            OutboxMessage.dedupe_key.startswith(f'reschedule:{booked["id"]}:')).count()
    assert emails == 1


def test_the_same_time_off_sent_twice_is_added_once(actors):
    people, ids = actors
    day = (ids['today'] + 50 * DAY).isoformat()
    fields = {'start_date': day, 'end_date': '', 'start_time': '13:00', 'end_time': '15:00',
              'reason': 'Course'}
    first = post_form(people['doctor'], '/doctor/time-off', fields)
    second = post_form(people['doctor'], '/doctor/time-off', fields)
    assert first.status == second.status == 303
    assert location(first) == location(second)
    listed = [e for e in people['doctor'].get('/api/time-off?limit=1000').json['items']
              if e['start_date'] == day]
    assert len(listed) == 1
    entry = location(first)
    assert post_form(people['doctor'], entry + '/delete', {}).status == 303
    again = post_form(people['doctor'], entry + '/delete', {})
    assert again.status == 404 and 'error-page' in again.text


def test_time_off_at_the_ends_of_the_calendar_never_500(actors):
    people, ids = actors
    for start, end in (('0001-01-01', ''), ('9999-12-31', ''), ('0001-01-01', '0001-12-31'),
                       ('9999-01-01', '9999-12-31')):
        before = snapshot(ids)
        resp = post_form(people['admin'], '/admin/time-off',
                         {'doctor_id': '', 'start_date': start, 'end_date': end})
        assert_refused(resp, ids, before, (start, end), 'start_date')
        assert 'must be between 1900-01-01 and 2999-12-31' in field_error(resp.text, 'start_date')


def test_a_visit_with_a_doctor_who_left_offers_no_times_that_would_be_refused(actors):
    people, ids = actors
    gone = create_user(actors[0]['admin'].base_url, 'doctor', name='Dr Left Today')
    booked = people['patient'].post('/api/appointments', {
        'doctor_id': gone.user['id'], 'date': (ids['today'] + 9 * DAY).isoformat(),
        'time': '16:00'}).json
    assert people['admin'].put(f'/api/doctors/{gone.user["id"]}', {'active': False}).status == 200
    path = f'/appointments/{booked["id"]}/reschedule'
    for role, advice in (('patient', 'Please call the clinic'),
                         ('admin', 'Choose another doctor above')):
        resp = people[role].get(path)
        assert resp.status == 200 and 'no longer takes bookings' in resp.text
        assert advice in resp.text and 'week-slot' not in resp.text
    slots = people['admin'].get(f'/api/doctors/{gone.user["id"]}/free-times'
                                f'?date={(ids["today"] + 9 * DAY).isoformat()}').json
    assert slots['times'] == []


def test_a_form_body_over_a_megabyte_is_a_413_page(actors):
    people, ids = actors
    before = snapshot(ids)
    body = 'reason=' + 'x' * 2_000_000 + '&csrf_token=' + people['patient'].csrf_token
    resp = people['patient'].request('POST', '/patient/appointments', data=body, csrf=False,
                                     headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert resp.status == 413 and resp.headers['Content-Type'].startswith('text/html'), resp
    assert 'larger than 1 MB' in resp.text and 'Traceback' not in resp.text
    assert snapshot(ids) == before


@pytest.mark.parametrize('offset', [-1, -4000, 91, 5000])
def test_a_day_asked_for_outside_the_booking_window_is_a_400_by_the_day_field(actors, offset):
    people, ids = actors
    day = ids['today'] + offset * DAY
    resp = people['patient'].get(f'/patient?doctor_id={ids["doctor"]}&date={day}')
    assert resp.status == 400, resp
    assert ('in the past' if offset < 0 else 'too far ahead') in field_error(resp.text, 'date')
    resp = people['patient'].get(f'/appointments/{ids["appt"]}/reschedule?date={day}')
    assert resp.status == 400 and 'role="alert"' in resp.text, resp
    assert 'in the past' in resp.text if offset < 0 else 'too far ahead' in resp.text


def test_days_past_the_horizon_are_shown_but_are_no_links(settings):
    with site(settings, booking_horizon_days=10) as server:
        patient = create_user(server.url, 'patient')
        doctor = create_user(server.url, 'doctor')
        resp = patient.get(f'/patient?doctor_id={doctor.user["id"]}&week={day(7)}')
        assert resp.status == 200
        assert re.findall(r'date=([0-9-]{10})', resp.text)[-1] == day(10)
        assert 'no free' in resp.text  # days 11 to 13, shown as closed
        resp = patient.get(f'/patient?doctor_id={doctor.user["id"]}&date={day(11)}')
        assert resp.status == 400 and 'too far ahead' in field_error(resp.text, 'date')
