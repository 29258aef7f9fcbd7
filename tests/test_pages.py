"""The HTML pages over real HTTP: forms post with their csrf_token field,
answer with a redirect and a flash message, or show the error by the field."""
import datetime
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import unquote, urlencode, urlparse

import pytest

from app.clock import Clock
from app.db import database
from app.models import Appointment, LoginThrottle, Treatment
from tests.client import Client
from tests.conftest import PASSWORD

XSS = '<script>alert(1)</script>'
XSS_ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;'
DAY = datetime.timedelta(days=1)


class Page(HTMLParser):
    """The parts of a page a test looks at: forms, labels, buttons, links."""

    def __init__(self, html):
        super().__init__()
        self.html = html
        self.forms, self.labels, self.buttons, self.links = [], {}, [], []
        self._form = self._label = self._button = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or '' for k, v in attrs}
        if tag == 'form':
            self._form = {'action': attrs.get('action', ''), 'method': attrs.get('method', 'get'),
                          'attrs': attrs, 'inputs': []}
            self.forms.append(self._form)
        elif tag in ('input', 'textarea', 'select') and self._form is not None:
            self._form['inputs'].append({'tag': tag, **attrs})
        elif tag == 'label':
            self._label = [attrs.get('for'), '']
        elif tag == 'button':
            self._button = ''
        elif tag == 'a':
            self.links.append(attrs.get('href', ''))

    def handle_endtag(self, tag):
        if tag == 'form':
            self._form = None
        elif tag == 'label' and self._label is not None:
            self.labels[' '.join(self._label[1].split())] = self._label[0]
            self._label = None
        elif tag == 'button' and self._button is not None:
            self.buttons.append(' '.join(self._button.split()))
            self._button = None

    def handle_data(self, data):
        if self._label is not None:
            self._label[1] += data
        if self._button is not None:
            self._button += data

    def form(self, action):
        matches = [f for f in self.forms if f['action'] == action]
        assert matches, f'no form posting to {action}'
        return matches[0]

    def hidden(self, action):
        return {i['name']: i.get('value', '') for i in self.form(action)['inputs']
                if i.get('type') == 'hidden'}

    def radios(self, name):
        return [i['value'] for f in self.forms for i in f['inputs']
                if i.get('type') == 'radio' and i.get('name') == name]


def get_page(client, path, status=200):
    resp = client.get(path)
    assert resp.status == status, resp
    assert resp.headers['Content-Type'].startswith('text/html')
    return Page(resp.text)


def submit(client, path, fields):
    """A browser form post: urlencoded body, no X-CSRF-Token header."""
    return client.post(path, data=urlencode(fields), csrf=False)


def location(resp):
    url = urlparse(resp.headers['Location'])
    return url.path + ('?' + url.query if url.query else '')


def field_error(html, name):
    match = re.search(rf'<p class="field-error" id="f-{name}-error">(.*?)</p>', html, re.S)
    return match and match.group(1)


@pytest.fixture
def today(settings):
    return Clock(settings.tz).today()


@pytest.fixture
def new_doctor(base_url, make_user):
    def make(**fields):
        return make_user(base_url, 'doctor', name=f'Dr {uuid.uuid4().hex[:6]}', **fields)
    return make


def open_visit(doctor, patient, day, time='10:00', reason=None):
    """A booked appointment written straight to the database (bookings
    through the app cannot be in the past, visits cannot be completed in
    the future)."""
    with database.connection_context():
        return Appointment.create(doctor=doctor.user['id'], patient=patient.user['id'],
                                  date=day, time=time, status='booked', reason=reason).id


@pytest.fixture
def forget_login_failures():
    """Wrong logins count against the test client's address too; drop the
    ones a test made so later logins in the session are not throttled."""
    started = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    yield
    with database.connection_context():
        LoginThrottle.delete().where(LoginThrottle.last_try_at >= started).execute()


# ---- logging in -------------------------------------------------------------

def test_login_form_has_email_and_password_labels_and_a_log_in_button(anon):
    page = get_page(anon, '/login')
    form = page.form('/login')
    ids = {i.get('id'): i for i in form['inputs']}
    assert ids[page.labels['Email']]['name'] == 'email'
    assert ids[page.labels['Password']]['name'] == 'password'
    assert ids[page.labels['Password']]['type'] == 'password'
    assert 'Log in' in page.buttons


def test_login_through_the_form_sets_a_safe_session_cookie_and_opens_the_role_page(
        base_url, new_doctor):
    doctor = new_doctor()
    browser = Client(base_url)
    resp = submit(browser, '/login', {'email': doctor.user['email'], 'password': PASSWORD})
    assert resp.status == 303 and location(resp) == '/doctor'
    cookie = resp.headers['Set-Cookie']
    assert cookie.startswith('clinicdesk_session=')
    assert 'HttpOnly' in cookie and 'samesite=lax' in cookie.lower()
    page = get_page(browser, '/doctor')
    assert 'My schedule' in page.html and doctor.user['name'] in page.html


def test_login_follows_next_only_to_a_path_on_this_site(base_url, patient):
    email = patient.user['email']
    for next_url, expected in [('/patient?date=2030-01-01', '/patient?date=2030-01-01'),
                               ('//evil.example/x', '/patient'),
                               ('https://evil.example/', '/patient'),
                               ('/\\evil.example', '/patient')]:
        resp = submit(Client(base_url), '/login',
                      {'email': email, 'password': PASSWORD, 'next': next_url})
        assert resp.status == 303 and location(resp) == expected, next_url


def test_wrong_password_shows_an_error_on_the_form_and_keeps_the_email(
        anon, patient, forget_login_failures):
    resp = submit(anon, '/login', {'email': patient.user['email'], 'password': 'not-it-123'})
    assert resp.status == 401
    assert 'Wrong email or password' in resp.text
    assert f'value="{patient.user["email"]}"' in resp.text
    assert 'not-it-123' not in resp.text
    assert anon.cookie('clinicdesk_session') is None


def test_throttled_login_says_so_on_the_form(anon, patient):
    email = patient.user['email']
    with database.connection_context():
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        LoginThrottle.create(account=email, address='127.0.0.1', tries=5, last_try_at=now,
                             delayed_until=now + datetime.timedelta(seconds=30))
    resp = submit(anon, '/login', {'email': email, 'password': PASSWORD})
    assert resp.status == 429
    assert 'Too many failed logins' in resp.text and '<form method="post" action="/login"' in resp.text


def test_log_out_button_ends_the_session(patient):
    page = get_page(patient, '/patient')
    resp = submit(patient, '/logout', page.hidden('/logout'))
    assert resp.status == 303 and location(resp) == '/login'
    assert patient.get('/api/me').status == 401
    assert 'You are logged out.' in get_page(patient, '/login').html


# ---- registering --------------------------------------------------------------

def test_patient_registers_through_the_form_and_lands_on_their_page(anon):
    email = f'new-{uuid.uuid4().hex[:8]}@example.test'
    resp = submit(anon, '/register', {'name': 'Nora Field', 'email': email, 'phone': '',
                                      'password': PASSWORD})
    assert resp.status == 303 and location(resp) == '/patient'
    page = get_page(anon, '/patient')
    assert 'Welcome, Nora Field' in page.html
    assert 'You have no upcoming appointments' in page.html
    assert anon.get('/api/me').json['user']['email'] == email


def test_register_errors_appear_next_to_the_field_and_keep_the_input(anon):
    resp = submit(anon, '/register', {'name': 'Short Pass', 'email': 'short@example.test',
                                      'phone': '', 'password': 'abc'})
    assert resp.status == 400
    assert field_error(resp.text, 'password') == 'Password must be at least 8 characters.'
    assert 'value="Short Pass"' in resp.text and 'value="short@example.test"' in resp.text


# ---- patient --------------------------------------------------------------------

def test_patient_books_through_the_form_then_cancels(base_url, patient, new_doctor, today):
    doctor = new_doctor(specialization='Dermatology')
    tomorrow = today + DAY
    page = get_page(patient, f'/patient?doctor_id={doctor.user["id"]}&date={tomorrow}')
    times = page.radios('time')
    assert times and times[0] == '09:00'
    fields = {**page.hidden('/patient/appointments'), 'time': times[1], 'reason': 'Itchy rash'}
    assert fields['csrf_token'] and fields['doctor_id'] == str(doctor.user['id'])

    resp = submit(patient, '/patient/appointments', fields)
    assert resp.status == 303 and location(resp) == '/patient'
    page = get_page(patient, '/patient')
    upcoming = page.html.split('id="upcoming"')[1].split('id="book"')[0]
    assert doctor.user['name'] in upcoming and times[1] in upcoming and 'Dermatology' in upcoming
    assert 'Booked:' in page.html

    cancel = [f for f in page.forms if f['action'].endswith('/cancel')]
    assert len(cancel) == 1 and cancel[0]['attrs'].get('data-confirm')
    resp = submit(patient, cancel[0]['action'], page.hidden(cancel[0]['action']))
    assert resp.status == 303
    page = get_page(patient, '/patient')
    assert 'Cancelled your appointment' in page.html
    assert 'You have no upcoming appointments' in page.html
    items = patient.get('/api/appointments').json['items']
    assert [a['status'] for a in items] == ['cancelled']


def test_booking_a_taken_time_shows_the_error_by_the_times(base_url, make_user, patient,
                                                            new_doctor, today):
    doctor = new_doctor()
    day = (today + 2 * DAY).isoformat()
    other = make_user(base_url, 'patient')
    assert other.post('/api/appointments', {'doctor_id': doctor.user['id'], 'date': day,
                                            'time': '09:00'}).status == 201
    page = get_page(patient, f'/patient?doctor_id={doctor.user["id"]}&date={day}')
    assert '09:00' not in page.radios('time')
    fields = {**page.hidden('/patient/appointments'), 'time': '09:00', 'reason': 'Kept reason'}
    resp = submit(patient, '/patient/appointments', fields)
    assert resp.status == 409
    assert 'already has an appointment' in field_error(resp.text, 'time')
    assert 'Kept reason' in resp.text


def test_form_post_without_csrf_token_is_refused(patient, new_doctor, today):
    doctor = new_doctor()
    resp = submit(patient, '/patient/appointments',
                  {'doctor_id': doctor.user['id'], 'date': (today + DAY).isoformat(),
                   'time': '10:00'})
    assert resp.status == 403 and 'CSRF' in resp.text
    assert patient.get('/api/appointments').json['items'] == []


def test_patient_turns_reminders_off_and_on(patient):
    page = get_page(patient, '/patient')
    assert 'Turn reminders off' in page.buttons
    resp = submit(patient, '/patient/reminders', page.hidden('/patient/reminders'))
    assert resp.status == 303
    assert patient.get('/api/me').json['user']['reminders_enabled'] is False
    page = get_page(patient, '/patient')
    assert 'Reminder emails are off' in page.html and 'Turn reminders on' in page.buttons


# ---- doctor -------------------------------------------------------------------

def test_doctor_completes_a_visit_and_the_patient_sees_the_diagnosis(patient, new_doctor, today):
    doctor = new_doctor()
    visit_id = open_visit(doctor, patient, today - DAY, reason='Sore knee')
    schedule = get_page(doctor, '/doctor')
    still_open = schedule.html.split('id="open"')[1]
    assert f'/doctor/appointments/{visit_id}' in still_open

    action = f'/doctor/appointments/{visit_id}/complete'
    page = get_page(doctor, f'/doctor/appointments/{visit_id}')
    assert {'Diagnosis', 'Treatment', 'Prescription (optional)'} <= set(page.labels)
    assert 'Sore knee' in page.html and 'Mark no-show' in page.buttons
    resp = submit(doctor, action, {**page.hidden(action), 'diagnosis': 'Patellar tendinitis'})
    assert resp.status == 400
    assert field_error(resp.text, 'treatment') == 'Treatment is required.'
    assert 'Patellar tendinitis' in resp.text

    resp = submit(doctor, action, {**page.hidden(action), 'diagnosis': 'Patellar tendinitis',
                                   'treatment': 'Rest and ice', 'prescription': ''})
    assert resp.status == 303 and location(resp) == '/doctor'
    assert 'is completed' in get_page(doctor, '/doctor').html

    history = get_page(patient, '/patient').html.split('id="history"')[1]
    assert 'Patellar tendinitis' in history and 'Rest and ice' in history
    assert 'Completed' in history


def test_doctor_marks_a_no_show(patient, new_doctor, today):
    doctor = new_doctor()
    visit_id = open_visit(doctor, patient, today - DAY)
    action = f'/doctor/appointments/{visit_id}/no-show'
    page = get_page(doctor, f'/doctor/appointments/{visit_id}')
    assert page.form(action)['attrs'].get('data-confirm')
    resp = submit(doctor, action, page.hidden(action))
    assert resp.status == 303
    assert doctor.get(f'/api/appointments/{visit_id}').json['status'] == 'no_show'


def test_doctor_cannot_open_another_doctors_visit(patient, new_doctor, today):
    owner, other = new_doctor(), new_doctor()
    visit_id = open_visit(owner, patient, today)
    page = get_page(other, f'/doctor/appointments/{visit_id}', status=404)
    assert 'href="/doctor"' in page.html
    token = get_page(other, '/doctor').hidden('/logout')['csrf_token']
    resp = submit(other, f'/doctor/appointments/{visit_id}/complete',
                  {'csrf_token': token, 'diagnosis': 'x', 'treatment': 'y'})
    assert resp.status == 404
    assert owner.get(f'/api/appointments/{visit_id}').json['status'] == 'booked'


# ---- access ---------------------------------------------------------------------

def test_patient_opening_the_admin_page_gets_a_403_page_with_a_way_home(patient):
    page = get_page(patient, '/admin', status=403)
    assert 'not available to your account' in page.html
    assert '/patient' in page.links


def test_anonymous_visitor_is_sent_to_login_with_next(anon):
    resp = anon.get('/patient')
    assert resp.status in (302, 303)
    assert location(resp) == '/login?next=%2Fpatient'
    page = get_page(anon, location(resp))
    assert page.hidden('/login')['next'] == '/patient'
    resp = anon.get('/patient?doctor_id=5&date=2030-01-02')
    assert location(resp) == '/login?next=%2Fpatient%3Fdoctor_id%3D5%26date%3D2030-01-02'


def test_root_sends_each_role_home(anon, patient, doctor, admin):
    assert location(anon.get('/')) == '/login'
    assert location(patient.get('/')) == '/patient'
    assert location(doctor.get('/')) == '/doctor'
    assert location(admin.get('/')) == '/admin'


# ---- hostile names ----------------------------------------------------------------

def assert_escaped(html, where):
    assert XSS not in html, f'raw script on {where}'
    assert XSS_ESCAPED in html, f'name missing on {where}'


def test_script_in_names_specialization_and_reason_is_escaped_on_every_page(
        base_url, make_user, admin, today):
    patient = make_user(base_url, 'patient', name=XSS)
    doctor = make_user(base_url, 'doctor', name=XSS, specialization=XSS)
    doctor_id = doctor.user['id']
    tomorrow = (today + DAY).isoformat()
    page = get_page(patient, f'/patient?doctor_id={doctor_id}&date={tomorrow}')
    assert_escaped(page.html, 'booking')
    fields = {**page.hidden('/patient/appointments'), 'time': '11:00', 'reason': XSS}
    assert submit(patient, '/patient/appointments', fields).status == 303
    visit_id = open_visit(doctor, patient, today - DAY, reason=XSS)
    done_id = open_visit(doctor, patient, today - 2 * DAY, '12:00')
    with database.connection_context():
        Treatment.create(appointment=done_id, diagnosis=XSS, treatment=XSS, prescription=XSS)
        Appointment.update(status='completed').where(Appointment.id == done_id).execute()

    pages = [(patient, '/patient'), (patient, '/patient?history_offset=0'),
             (doctor, '/doctor'), (doctor, f'/doctor/appointments/{visit_id}'),
             (admin, f'/admin?doctor_id={doctor_id}'),
             (admin, '/admin?' + urlencode({'q': XSS}))]
    for client, path in pages:
        assert_escaped(get_page(client, path).html, path)
    resp = submit(admin, '/admin/doctors', {**get_page(admin, '/admin').hidden('/admin/doctors'),
                                            'name': XSS, 'email': 'not-an-email',
                                            'specialization': XSS, 'password': PASSWORD})
    assert resp.status == 400
    assert_escaped(resp.text, 'add doctor form')


def test_flash_message_with_a_name_is_escaped(base_url, make_user, today):
    patient = make_user(base_url, 'patient')
    doctor = make_user(base_url, 'doctor', name=XSS)
    page = get_page(patient, f'/patient?doctor_id={doctor.user["id"]}&date={today + DAY}')
    resp = submit(patient, '/patient/appointments',
                  {**page.hidden('/patient/appointments'), 'time': '09:30'})
    assert XSS in unquote(resp.headers['Set-Cookie'])
    html = get_page(patient, '/patient').html
    flash = html.split('class="flash"')[1].split('</div>')[0]
    assert 'Booked:' in flash and XSS_ESCAPED in flash and XSS not in html


# ---- admin ----------------------------------------------------------------------

def test_admin_adds_a_doctor_through_the_form_and_it_is_in_the_api(admin):
    page = get_page(admin, '/admin')
    name = f'Dr Form {uuid.uuid4().hex[:6]}'
    email = f'{uuid.uuid4().hex[:8]}@example.test'
    fields = {**page.hidden('/admin/doctors'), 'name': name, 'email': email,
              'specialization': 'Neurology', 'password': PASSWORD}
    resp = submit(admin, '/admin/doctors', fields)
    assert resp.status == 303
    assert name in get_page(admin, '/admin').html
    doctors = admin.get('/api/doctors?limit=1000').json['items']
    assert {'name': name, 'specialization': 'Neurology'} in [
        {k: d[k] for k in ('name', 'specialization')} for d in doctors]

    resp = submit(admin, '/admin/doctors', {**fields, 'name': 'Second Try'})
    assert resp.status == 409
    assert 'already exists' in field_error(resp.text, 'email')
    assert 'value="Second Try"' in resp.text and PASSWORD not in resp.text


def test_admin_filters_and_pages_through_appointments(admin, patient, new_doctor, today):
    doctor = new_doctor()
    start = today - 60 * DAY
    rows = [{'doctor': doctor.user['id'], 'patient': patient.user['id'],
             'date': start + i * DAY, 'time': '10:00',
             'status': 'cancelled' if i % 5 == 0 else 'completed'} for i in range(55)]
    with database.connection_context():
        Appointment.insert_many(rows).execute()
    base = f'/admin?doctor_id={doctor.user["id"]}'

    page = get_page(admin, base)
    assert 'Showing 1–50 of 55 appointments' in page.html
    assert page.html.count('data-label="When"') == 50
    next_link = [link for link in page.links if 'offset=50' in link]
    assert next_link and f'doctor_id={doctor.user["id"]}' in next_link[0]
    page = get_page(admin, next_link[0].replace('&amp;', '&'))
    assert 'Showing 51–55 of 55 appointments' in page.html
    assert page.html.count('data-label="When"') == 5
    assert any('offset' not in link and f'doctor_id={doctor.user["id"]}' in link
               for link in page.links if link.endswith('#appointments'))

    page = get_page(admin, base + '&status=cancelled')
    assert 'Showing 1–11 of 11 appointments' in page.html
    window = f'&from={start + 10 * DAY}&to={start + 19 * DAY}&order=asc'
    page = get_page(admin, base + window)
    assert 'Showing 1–10 of 10 appointments' in page.html
    first = page.html.index('data-label="When"')
    assert (start + 10 * DAY).strftime('%-d %b %Y') in page.html[first:first + 200]

    resp = admin.get(base + '&from=2026-02-30')
    assert resp.status == 400
    assert field_error(resp.text, 'from') == 'From is not a real calendar date.'
