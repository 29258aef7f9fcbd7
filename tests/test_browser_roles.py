"""Each role's everyday path in a real browser (headless Debian Chromium via
Playwright, the real app under Waitress and a real worker). Fields and
buttons are found by their labels and roles, so the tests prove the pages
are labelled; every page visited gets `check_page` (title, one h1, labelled
fields, no sideways scrolling at 390 and 1280 px, screenshots)."""
import csv
import datetime
import re
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app.clock import Clock
from app.db import database
from app.models import Appointment
from app.services import reminders
from tests.browser import log_in
from tests.conftest import PASSWORD, create_user, unique_email

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser

DAY = datetime.timedelta(days=1)
CSV_HEADER = ['date', 'time', 'doctor', 'specialization', 'status', 'diagnosis', 'treatment',
              'prescription']


def clinic_today(settings):
    return Clock(settings.tz).today()


def suffix():
    return uuid.uuid4().hex[:6]


def flash(page):
    return page.get_by_role('status').filter(has_text=re.compile('.')).first


def book_through_api(patient, doctor_id, day, time, reason=''):
    resp = patient.post('/api/appointments', {'doctor_id': doctor_id, 'date': day.isoformat(),
                                              'time': time, 'reason': reason})
    assert resp.status == 201, resp
    return resp.json['id']


def move_to(appointment_id, day, time=None):
    """As time passing would: the visit's day (and start) has come."""
    with database.connection_context():
        (Appointment
         .update(date=day, **({'time': time} if time else {}))
         .where(Appointment.id == appointment_id)
         .execute())


# ---- patient ------------------------------------------------------------------

def test_patient_registers_books_exports_and_turns_reminders_off(
        page, js_errors, check_page, base_url, settings, worker):
    doctor_name = f'Dr Ada Skin {suffix()}'
    create_user(base_url, 'doctor', name=doctor_name, specialization='Dermatology')
    email = unique_email('patient')

    page.goto(f'{base_url}/login')
    check_page(page, 'login')
    page.get_by_role('link', name='Create an account').click()
    check_page(page, 'register')
    page.get_by_label('Full name').fill('Pia Phone')
    page.get_by_label('Email').fill(email)
    page.get_by_label('Phone').fill('+44 20 7946 0000')
    page.get_by_label('Password').fill('short')
    js_errors.expect(400, f'{base_url}/register')
    page.get_by_role('button', name='Create account').click()
    page.get_by_text('Password must be at least 8 characters.').wait_for()
    check_page(page, 'register-error')
    page.get_by_label('Password').fill(PASSWORD)
    page.get_by_role('button', name='Create account').click()
    page.wait_for_url(f'{base_url}/patient')
    assert 'Welcome, Pia Phone' in flash(page).inner_text()
    assert page.get_by_text('You have no upcoming appointments.').is_visible()
    check_page(page, 'patient-new')

    page.get_by_label('Doctor').select_option(label=f'{doctor_name} (Dermatology)')
    page.get_by_role('button', name='Show free times').click()
    days = page.get_by_role('navigation', name=f'Days with {doctor_name}')
    days.get_by_role('link').filter(has_text='Tomorrow').click()
    tomorrow = clinic_today(settings) + DAY
    page.wait_for_url(re.compile(f'date={tomorrow}'))
    page.get_by_label('10:30').check()
    page.get_by_label('Reason for the visit').fill('Itchy rash on the arm')
    check_page(page, 'patient-book')
    page.get_by_role('button', name='Book', exact=True).click()
    page.wait_for_url(f'{base_url}/patient')
    assert f'with {doctor_name}' in flash(page).inner_text()
    upcoming = page.locator('#upcoming')
    assert upcoming.get_by_text(doctor_name).is_visible()
    assert upcoming.get_by_text('10:30').is_visible()
    assert upcoming.get_by_text('Tomorrow').is_visible()

    page.get_by_role('button', name='Export my history').click()
    link = page.get_by_role('link', name='Download CSV')
    link.wait_for(state='visible')
    with page.expect_download() as info:
        link.click()
    with open(info.value.path(), encoding='utf-8', newline='') as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == CSV_HEADER
    assert [tomorrow.isoformat(), '10:30', doctor_name, 'Dermatology', 'booked',
            '', '', ''] in rows[1:]

    page.get_by_role('button', name='Turn reminders off').click()
    page.wait_for_url(f'{base_url}/patient#reminders')
    assert 'Reminder emails are off' in flash(page).inner_text()
    page.reload()
    assert page.get_by_text('Off — you get no reminder emails.').is_visible()
    assert page.get_by_role('button', name='Turn reminders on').is_visible()
    check_page(page, 'patient')
    js_errors.assert_none()


# ---- doctor -------------------------------------------------------------------

def test_doctor_sees_today_first_completes_a_visit_and_marks_a_no_show(
        page, js_errors, check_page, base_url, settings):
    doctor = create_user(base_url, 'doctor', name=f'Dr Noor Heart {suffix()}',
                         specialization='Cardiology')
    first = create_user(base_url, 'patient', name='Anna Early')
    second = create_user(base_url, 'patient', name='Ben Absent')
    today = clinic_today(settings)
    doctor_id = doctor.user['id']
    move_to(book_through_api(first, doctor_id, today + DAY, '09:00', 'Chest pain'), today)
    # A no-show needs a start that has passed, whatever the hour the test runs at.
    move_to(book_through_api(second, doctor_id, today + DAY, '09:30', 'Chest pain'), today,
            '00:00')
    book_through_api(first, doctor_id, today + 2 * DAY, '11:00', 'Follow-up')
    move_to(book_through_api(second, doctor_id, today + DAY, '15:00', 'Cough'), today - DAY)

    log_in(page, base_url, doctor.user['email'], '/doctor')
    headings = page.locator('main h2').all_inner_texts()
    assert headings[0].startswith('Today'), headings
    today_list = page.locator('#today')
    assert today_list.get_by_text('Anna Early').is_visible()
    assert today_list.get_by_text('Ben Absent').is_visible()
    still_open = page.get_by_role('region', name='Still open from earlier days')
    assert still_open.get_by_role('link', name=re.compile('^Open visit: Ben Absent')).is_visible()
    check_page(page, 'doctor')

    today_list.get_by_role('link', name=re.compile('^Open visit: Anna Early')).click()
    page.wait_for_url(re.compile(r'/doctor/appointments/\d+$'))
    assert page.get_by_role('heading', level=1).inner_text() == 'Anna Early'
    check_page(page, 'doctor-visit')
    page.get_by_label('Diagnosis').fill('Stable angina')
    page.get_by_label('Treatment').fill('Lifestyle advice, review in 4 weeks')
    page.get_by_label('Prescription').fill('Aspirin 75 mg daily')
    page.get_by_role('button', name='Complete visit').click()
    page.wait_for_url(f'{base_url}/doctor')
    assert 'Visit of Anna Early' in flash(page).inner_text()
    assert today_list.locator('li', has_text='Anna Early').get_by_text('Completed').is_visible()

    today_list.get_by_role('link', name=re.compile('^Open visit: Ben Absent')).click()
    page.once('dialog', lambda dialog: dialog.accept())
    page.get_by_role('button', name='Mark no-show').click()
    page.wait_for_url(f'{base_url}/doctor')
    assert 'Ben Absent marked as no-show' in flash(page).inner_text()
    assert today_list.locator('li', has_text='Ben Absent').get_by_text('No-show').is_visible()
    assert page.locator('#upcoming').get_by_text('Follow-up').is_visible()
    check_page(page, 'doctor-done')

    today_list.get_by_role('link', name=re.compile('^View visit: Anna Early')).click()
    page.get_by_role('definition').filter(has_text='Aspirin 75 mg daily').wait_for()
    check_page(page, 'doctor-visit-recorded')

    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(f'{base_url}/login')
    assert 'You are logged out.' in flash(page).inner_text()
    log_in(page, base_url, first.user['email'], '/patient')
    past = page.locator('#history')
    assert past.get_by_text('Stable angina').is_visible()
    assert past.get_by_text('Aspirin 75 mg daily').is_visible()
    assert page.locator('#upcoming').get_by_text(doctor.user['name']).is_visible()
    check_page(page, 'patient-history')
    js_errors.assert_none()


# ---- admin --------------------------------------------------------------------

def many_past_visits(doctor_id, patient_id, today, count):
    with database.connection_context():
        Appointment.insert_many(
            [{'doctor': doctor_id, 'patient': patient_id, 'date': today - DAY * (i + 1),
              'time': '09:00', 'status': 'completed', 'reason': f'Visit {i + 1}'}
             for i in range(count)]).execute()


def recent_run_after(page, task, started_after):
    """The status page's own refresh shows `task` finished after `started_after`.
    The session's worker also runs the other files' tasks on this process:
    on a loaded two-core machine the run may wait its turn. On a timeout the
    failure shows what the page's recent runs and refresh note said."""
    try:
        page.wait_for_function("""([task, after]) => [...document.querySelectorAll(
            '[data-part="recent"] tr')].some(tr => {
              const cells = tr.querySelectorAll('td');
              const time = tr.querySelector('time');
              return cells.length > 1 && cells[0].textContent.trim() === task
                && cells[1].textContent.trim() === 'Success'
                && time && Date.parse(time.getAttribute('datetime')) >= after;
            })""", arg=[task, started_after], timeout=60_000)
    except PlaywrightTimeout:
        rows = page.locator('[data-part="recent"] tr').all_inner_texts()[:8]
        note = page.locator('#status-refresh').inner_text()
        raise AssertionError(f'no finished {task} after {started_after} on the page; '
                             f'refresh note: {note!r}; newest rows: {rows}') from None


def test_admin_adds_a_doctor_pages_appointments_and_runs_a_job_from_the_status_page(
        page, js_errors, check_page, base_url, settings, worker):
    admin = create_user(base_url, 'admin')
    busy = create_user(base_url, 'doctor', name=f'Dr Busy Bee {suffix()}')
    patient = create_user(base_url, 'patient', name='Pat Regular')
    today = clinic_today(settings)
    many_past_visits(busy.user['id'], patient.user['id'], today, 55)
    # The reminder job leaves out visits that have started: this one is
    # still ahead whatever the hour the test runs at, but in its last minute.
    move_to(book_through_api(patient, busy.user['id'], today + DAY, '16:00'), today, '23:59')

    log_in(page, base_url, admin.user['email'], '/admin')
    check_page(page, 'admin')

    new_doctor = f'Dr Nia Nerve {suffix()}'
    add = page.locator('#add-doctor')
    add.get_by_label('Name').fill(new_doctor)
    add.get_by_label('Email').fill(unique_email('doctor'))
    add.get_by_label('Specialization').fill('Neurology')
    add.get_by_label('Password').fill(PASSWORD)
    add.get_by_role('button', name='Add doctor').click()
    page.wait_for_url(f'{base_url}/admin#doctors')
    assert f'Added {new_doctor} (Neurology)' in flash(page).inner_text()
    assert page.locator('#doctors').get_by_text(new_doctor).is_visible()

    filters = page.locator('#appointments')
    filters.get_by_label('Doctor').select_option(label=busy.user['name'])
    filters.get_by_label('Status').select_option(label='Completed')
    filters.get_by_role('button', name='Apply filters').click()
    page.get_by_text('Showing 1–50 of 55 appointments').wait_for()
    page.get_by_role('navigation', name='Appointments pages').get_by_role('link', name='Next →').click()
    page.get_by_text('Showing 51–55 of 55 appointments').wait_for()
    assert filters.get_by_text('Visit 55', exact=True).is_visible()
    check_page(page, 'admin-appointments-page-2')

    page.get_by_role('navigation', name='Main').get_by_role('link', name='Status').click()
    page.wait_for_url(f'{base_url}/admin/status')
    clicked_at = page.evaluate('Date.now()') - 1000
    page.get_by_role('button', name='Run now: daily_reminders').click()
    page.get_by_text('Daily reminders queued to run now.').wait_for()
    note = page.locator('#status-refresh').inner_text()
    recent_run_after(page, 'daily_reminders_for', clicked_at)
    page.wait_for_function('note => document.getElementById("status-refresh").innerText != note',
                           arg=note)
    check_page(page, 'admin-status')

    page.get_by_role('navigation', name='Main').get_by_role('link', name='Outbox').click()
    page.wait_for_url(f'{base_url}/admin/outbox')
    assert page.get_by_role('heading', level=1).inner_text() == 'Outbox'
    reminder = page.get_by_role('row').filter(has_text=patient.user['email'])
    reminder.get_by_role('link', name=re.compile('^Reminder: your appointment on')).click()
    page.wait_for_url(re.compile(r'/admin/outbox/\d+$'))
    assert page.get_by_role('heading', level=1).inner_text().endswith('at 23:59')
    check_page(page, 'admin-outbox-message')
    page.get_by_role('link', name='← Outbox').click()
    page.wait_for_url(f'{base_url}/admin/outbox')
    check_page(page, 'admin-outbox')

    page.get_by_role('navigation', name='Main').get_by_role('link', name='Reports').click()
    page.wait_for_url(f'{base_url}/admin/reports')
    assert page.get_by_role('heading', level=1).inner_text() == 'Scheduled reports'
    check_page(page, 'admin-reports')
    report = f'Daily list {suffix()}'
    page.get_by_label('Name', exact=True).fill(report)
    page.get_by_label('Recipients').fill('front-desk@example.test')
    page.get_by_role('button', name='Create report').click()
    page.wait_for_url(re.compile(r'/admin/reports/\d+$'))
    assert page.get_by_role('heading', level=1).inner_text() == report
    check_page(page, 'admin-report')

    page.get_by_role('navigation', name='Main').get_by_role('link', name='Audit').click()
    page.wait_for_url(f'{base_url}/admin/audit')
    check_page(page, 'admin-audit')

    js_errors.expect(404, f'{base_url}/admin/no-such-page')
    page.goto(f'{base_url}/admin/no-such-page')
    assert page.get_by_role('link', name='Go to the Dashboard').is_visible()
    check_page(page, 'not-found')
    js_errors.assert_none()


def test_patient_stops_reminders_from_the_link_in_an_email(
        page, js_errors, check_page, base_url, settings):
    patient = create_user(base_url, 'patient', name='Uma Unsubscribe')
    link = urlsplit(reminders.unsubscribe_url(settings, patient.user['id']))
    page.goto(base_url + link.path)
    assert page.get_by_text(patient.user['email']).is_visible()
    check_page(page, 'unsubscribe')
    page.get_by_role('button', name='Stop reminders').click()
    page.get_by_role('heading', level=1, name='Reminders are off').wait_for()
    check_page(page, 'unsubscribe-done')
    js_errors.assert_none()


# ---- keyboard -----------------------------------------------------------------

FOCUS_RING = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  return {tag: el.tagName, text: el.textContent.trim(), focusVisible: el.matches(':focus-visible'),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
          shadow: style.boxShadow !== 'none'};
}"""


def test_login_works_with_the_keyboard_alone_and_focus_is_visible(page, base_url):
    patient = create_user(base_url, 'patient', name='Kim Keys')
    page.goto(f'{base_url}/login')
    # Chromium applies autofocus at a rendering step, which can follow `load`.
    page.wait_for_function('document.activeElement.id === "f-email"', timeout=5_000)
    page.keyboard.type(patient.user['email'])
    page.keyboard.press('Tab')
    assert page.evaluate('document.activeElement.id') == 'f-password'
    page.keyboard.type(PASSWORD)
    page.keyboard.press('Tab')
    ring = page.evaluate(FOCUS_RING)
    assert ring['tag'] == 'BUTTON' and ring['text'] == 'Log in', ring
    assert ring['focusVisible'] and (ring['outline'] or ring['shadow']), ring
    page.keyboard.press('Enter')
    page.wait_for_url(f'{base_url}/patient')

    page.keyboard.press('Tab')
    ring = page.evaluate(FOCUS_RING)
    assert ring['tag'] == 'A' and ring['text'] == 'Skip to content', ring
    assert ring['focusVisible'] and (ring['outline'] or ring['shadow']), ring
    assert page.get_by_role('link', name='Skip to content').bounding_box()['y'] >= 0
