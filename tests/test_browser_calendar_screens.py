"""Every calendar page read on a phone (390 × 844) and a tablet (820 × 1180)
as the role that uses it, in a real browser: the page checks of
tests/browser.py (title, one h1, labelled fields, nothing sideways, no
table cut off, no link off screen) and controls big enough to tap."""
import datetime
import uuid
from urllib.parse import quote

import pytest

from app.clock import Clock
from tests.browser import check_structure, check_width, log_in
from tests.calendar_site import reception
from tests.conftest import PASSWORD, create_user

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser

DAY = datetime.timedelta(days=1)
SCREENS = {'phone': {'width': 390, 'height': 844}, 'tablet': {'width': 820, 'height': 1180}}
# WCAG 2.2 target size (minimum): 24 × 24 CSS pixels. Links inside a
# sentence are exempt, as the guideline allows.
TAP = 24
TARGETS = """(tap) => [...document.querySelectorAll(
    'button, input:not([type=hidden]), select, summary, a.btn, nav a, .week-slot, .week-day-head, label.slot')]
  .filter(el => el.checkVisibility({visibilityProperty: true}) && !el.closest('.visually-hidden'))
  .filter(el => { const r = el.getBoundingClientRect();
                  const box = el.closest('label') && el.type in {radio: 1, checkbox: 1}
                    ? el.closest('label').getBoundingClientRect() : r;
                  return Math.max(r.width, box.width) < tap || Math.max(r.height, box.height) < tap; })
  .map(el => el.outerHTML.slice(0, 100) + ' ' + Math.round(el.getBoundingClientRect().width)
             + 'x' + Math.round(el.getBoundingClientRect().height))"""
# A control that sticks out of the screen on either side.
OFF_SCREEN = """() => [...document.querySelectorAll('a, button, input, select, summary, label')]
  .filter(el => el.checkVisibility() && !el.closest('.visually-hidden'))
  .filter(el => { const r = el.getBoundingClientRect();
                  return r.left < -1 || r.right > window.innerWidth + 1; })
  .map(el => el.outerHTML.slice(0, 100))"""


def read_on_each_screen(page, name):
    check_structure(page)
    for screen, size in SCREENS.items():
        check_width(page, f'{name}-{screen}', size['width'])
        page.set_viewport_size(size)
        small = page.evaluate(TARGETS, TAP)
        assert small == [], f'{name} on a {screen}: controls under {TAP} px: {small}'
        outside = page.evaluate(OFF_SCREEN)
        assert outside == [], f'{name} on a {screen}: controls off screen: {outside}'


@pytest.fixture
def clinic(base_url, settings):
    """A doctor with a booked week, time off over one visit, a doctor who
    left with a visit still to move, and everyone who reads the pages."""
    today = Clock(settings.tz).today()
    tag = uuid.uuid4().hex[:6]
    doctor = create_user(base_url, 'doctor', name=f'Dr Maria-Fernanda Oyelaran-Castellanos {tag}',
                         specialization='Paediatric dermatology')
    other = create_user(base_url, 'doctor', name=f'Dr Bo Li {tag}')
    gone = create_user(base_url, 'doctor', name=f'Dr Gone {tag}')
    patient = create_user(base_url, 'patient', name=f'Bartholomew Featherstonehaugh-Smythe {tag}')
    admin = create_user(base_url, 'admin')
    desk = reception(base_url)
    day = today + 3 * DAY

    def book(doctor_client, time, when=day):
        resp = patient.post('/api/appointments', {'doctor_id': doctor_client.user['id'],
                                                  'date': when.isoformat(), 'time': time,
                                                  'reason': 'A rash that will not go away'})
        assert resp.status == 201, resp
        return resp.json['id']

    appt = book(doctor, '10:00')
    book(gone, '11:00')
    off = admin.post('/api/time-off', {'doctor_id': doctor.user['id'],
                                       'start_date': day.isoformat(),
                                       'end_date': (day + 2 * DAY).isoformat(),
                                       'reason': 'Conference on paediatric skin conditions'})
    assert off.status == 201 and off.json['affected']
    closure = admin.post('/api/time-off', {'doctor_id': None,
                                           'start_date': (today + 20 * DAY).isoformat(),
                                           'start_time': '13:00', 'end_time': '17:00',
                                           'reason': 'Staff training afternoon'})
    assert closure.status == 201
    mine = doctor.post('/api/time-off', {'start_date': (today + 30 * DAY).isoformat(),
                                         'reason': 'Annual leave'})
    assert mine.status == 201
    assert admin.put(f'/api/doctors/{gone.user["id"]}', {'active': False}).status == 200
    return {'today': today, 'day': day, 'doctor': doctor, 'other': other, 'gone': gone,
            'patient': patient, 'admin': admin, 'reception': desk, 'appt': appt,
            'off': off.json['id'], 'mine': mine.json['id']}


def visit(page, base_url, path, name):
    page.goto(base_url + path)
    read_on_each_screen(page, name)


def test_patient_reads_the_booking_week_and_the_reschedule_page_on_a_phone_and_a_tablet(
        page, js_errors, base_url, clinic):
    page.set_viewport_size(SCREENS['phone'])
    log_in(page, base_url, clinic['patient'].user['email'], '/patient')
    read_on_each_screen(page, 'patient-home')
    doctor_id, day = clinic['doctor'].user['id'], clinic['today'] + 6 * DAY
    visit(page, base_url, f'/patient?doctor_id={doctor_id}#book', 'book-week')
    visit(page, base_url, f'/patient?doctor_id={doctor_id}&date={day}&time=10:00#confirm',
          'book-confirm')
    # A week with nothing free: the message and the link to the next free week.
    visit(page, base_url, f'/patient?doctor_id={doctor_id}&week={clinic["day"]}',
          'book-week-time-off')
    move = f'/appointments/{clinic["appt"]}/reschedule'
    visit(page, base_url, move, 'reschedule-patient')
    visit(page, base_url, f'{move}?date={day}&time=14:00#confirm', 'reschedule-patient-confirm')
    js_errors.expect(400, f'{base_url}{move}?week=not-a-week')
    visit(page, base_url, f'{move}?week=not-a-week', 'reschedule-patient-error')


def log_in_to(page, base_url, email, target):
    """Log in through the form, sent on to `target` (reception has no home page)."""
    page.goto(f'{base_url}/login?next={quote(target, safe="")}')
    page.get_by_label('Email').fill(email)
    page.get_by_label('Password').fill(PASSWORD)
    page.get_by_role('button', name='Log in').click()
    page.wait_for_url(base_url + target)


def test_front_desk_reads_the_reschedule_page_with_another_doctor_on_both_screens(
        page, base_url, clinic):
    page.set_viewport_size(SCREENS['phone'])
    move = f'/appointments/{clinic["appt"]}/reschedule'
    log_in_to(page, base_url, clinic['reception'].user['email'], move)
    read_on_each_screen(page, 'reschedule-desk')
    day = clinic['today'] + 6 * DAY
    visit(page, base_url, f'{move}?doctor_id={clinic["other"].user["id"]}&date={day}#confirm',
          'reschedule-desk-other-doctor')
    page.locator('summary', has_text='Another time').click()
    read_on_each_screen(page, 'reschedule-desk-override')


def test_admin_reads_hours_time_off_and_a_doctor_who_left_on_both_screens(
        page, js_errors, base_url, clinic):
    page.set_viewport_size(SCREENS['phone'])
    log_in(page, base_url, clinic['admin'].user['email'], '/admin')
    doctor_id = clinic['doctor'].user['id']
    js_errors.expect(400, f'{base_url}/admin/doctors/{doctor_id}/hours')
    visit(page, base_url, f'/admin/doctors/{doctor_id}/hours', 'hours-admin')
    page.set_viewport_size(SCREENS['phone'])
    page.get_by_label('From (Monday, range 1)').fill('18:00')
    with page.expect_navigation():
        page.get_by_role('button', name='Add a range to Tuesday').click()
    read_on_each_screen(page, 'hours-admin-unsaved')
    with page.expect_navigation():
        page.get_by_role('button', name='Save hours', exact=True).click()
    read_on_each_screen(page, 'hours-admin-errors')
    visit(page, base_url, '/admin/time-off', 'time-off-admin')
    visit(page, base_url, f'/admin/time-off/{clinic["off"]}', 'time-off-entry-admin')
    visit(page, base_url, f'/admin/doctors/{doctor_id}', 'doctor-admin')
    visit(page, base_url, f'/admin/doctors/{clinic["gone"].user["id"]}', 'doctor-admin-left')


def test_doctor_reads_their_hours_and_time_off_on_both_screens(page, js_errors, base_url, clinic):
    page.set_viewport_size(SCREENS['phone'])
    js_errors.expect(400, f'{base_url}/doctor/time-off')
    log_in(page, base_url, clinic['doctor'].user['email'], '/doctor')
    visit(page, base_url, '/doctor/hours', 'hours-doctor')
    visit(page, base_url, '/doctor/time-off', 'time-off-doctor')
    page.set_viewport_size(SCREENS['phone'])
    page.get_by_label('First day').fill('2020-01-01')
    with page.expect_navigation():
        page.get_by_role('button', name='Add time off').click()
    read_on_each_screen(page, 'time-off-doctor-errors')
    visit(page, base_url, f'/doctor/time-off/{clinic["mine"]}', 'time-off-entry-doctor')
