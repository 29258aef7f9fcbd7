"""Phone fixes at 320 and 390 px: the monthly report fits,
opened cancel forms stay in their row, reason boxes look like every other
field, the scheduled jobs fit their box, the two-factor page links to the
authenticator app, the no-SMTP notice has a box, stand-alone links are a
finger's height and the two days of a time off line up."""
import datetime

import pytest

from app.auth import hash_password
from app.clock import Clock
from app.db import database
from app.models import Appointment, MonthlyReport, User
from app.services import monthly_reports
from tests.browser import JsErrors, log_in
from tests.conftest import PASSWORD, create_user, unique_email

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser

WIDTHS = (320, 390)
HEIGHT = 740
MIN_TAP = 32
FIELD_HEIGHT = 40
LONG = ('Continue the current medication, recheck the blood pressure in three months '
        'and bring the home readings')

FITS = """() => ({scrollWidth: document.documentElement.scrollWidth, innerWidth,
  scrolled: [...document.querySelectorAll('.table-wrap')]
    .filter(el => el.scrollWidth > el.clientWidth + 1).length})"""
HEIGHTS = """selector => [...document.querySelectorAll(selector)]
  .filter(el => el.getClientRects().length)
  .map(el => [el.textContent.trim().slice(0, 30), el.getBoundingClientRect().height])"""
BOX = """selector => { const r = document.querySelector(selector).getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, width: r.width, height: r.height}; }"""


@pytest.fixture(scope='module')
def people(base_url, settings):
    """A doctor with a visit today, its patient, a receptionist, an admin and
    the doctor's monthly report with long treatments."""
    doctor = create_user(base_url, 'doctor', name='Dr Phone Fixes')
    patient = create_user(base_url, 'patient', name='Pia Narrowscreen')
    day = Clock(settings.tz).today()
    resp = patient.post('/api/appointments', {
        'doctor_id': doctor.user['id'], 'date': (day + datetime.timedelta(days=1)).isoformat(),
        'time': '10:00', 'reason': 'Check-up'})
    assert resp.status == 201, resp
    rows = [(datetime.date(2021, 3, n), '09:30', f'Patient Number {n}',
             'Essential hypertension, controlled', LONG) for n in range(1, 4)]
    with database.connection_context():
        # As the phone pages test does: today, late, so it is still ahead.
        (Appointment.update(date=day, time='23:30')
         .where(Appointment.id == resp.json['id']).execute())
        reception = User.create(email=unique_email('reception'), name='Rita Narrow',
                                password_hash=hash_password(PASSWORD), role='reception')
        doctor_row = User.get_by_id(doctor.user['id'])
        counts = {'booked': 12, 'completed': 3, 'cancelled': 4, 'no_show': 5, 'patients': 3}
        report = MonthlyReport.create(
            doctor=doctor_row.id, month='2021-03', **counts,
            html=monthly_reports.render_report(settings, doctor_row, '2021-03', counts, rows))
    return {'doctor': doctor.user['email'], 'patient': patient.user['email'],
            'patient_id': patient.user['id'], 'doctor_id': doctor.user['id'],
            'reception': reception.email,
            'admin': create_user(base_url, 'admin').user['email'], 'report': report.id}


@pytest.fixture
def as_user(browser, base_url):
    """`as_user(email, home)`: a page logged in as that person; no JavaScript
    errors on any of them."""
    opened = []

    def open_page(email, home):
        context = browser.new_context(viewport={'width': WIDTHS[0], 'height': HEIGHT})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors = JsErrors()
        page.on('pageerror', errors.on_page_error)
        page.on('console', errors.on_console)
        opened.append((context, errors))
        if email:
            log_in(page, base_url, email, home)
        return page

    yield open_page
    for context, errors in opened:
        context.close()
        errors.assert_none()


def at_widths(page):
    for width in WIDTHS:
        page.set_viewport_size({'width': width, 'height': HEIGHT})
        yield width


def book_path(people):
    return f'/reception/book?patient_id={people["patient_id"]}&doctor_id={people["doctor_id"]}'


def assert_fits(page, where):
    found = page.evaluate(FITS)
    assert found['scrollWidth'] <= found['innerWidth'], f'{where} scrolls sideways: {found}'
    assert found['scrolled'] == 0, f'{where} has a table wider than its box: {found}'


def test_the_monthly_report_fits_a_phone(as_user, base_url, people):
    page = as_user(people['doctor'], '/doctor')
    page.goto(f'{base_url}/monthly-reports/{people["report"]}')
    for width in at_widths(page):
        found = page.evaluate(FITS)
        assert found['scrollWidth'] <= width, f'report at {width} px: {found}'
        treatment = page.evaluate(BOX, 'td[data-label="Treatment"]')
        assert treatment['right'] <= width, f'treatment cut at {width} px: {treatment}'
    # The page is the emailed report as it was sent: no link that only works on the site.
    assert page.locator('a[href^="/"]').count() == 0


def test_opened_cancel_forms_wrap_and_reason_boxes_are_full_fields(as_user, base_url, people):
    page = as_user(people['reception'], '/reception')
    page.locator('details.appt-cancel summary').first.click()
    for width in at_widths(page):
        assert_fits(page, f'/reception, cancel open, at {width} px')
        form = page.evaluate(BOX, 'details.appt-cancel[open] form')
        reason = page.evaluate(BOX, 'details.appt-cancel[open] input[name=reason]')
        button = page.evaluate(BOX, 'details.appt-cancel[open] button[type=submit]')
        assert reason['height'] >= FIELD_HEIGHT and reason['width'] == form['width'], reason
        assert button['right'] <= form['right'] + 1, (width, button, form)

    page.goto(base_url + book_path(people))
    page.locator('details.move-any summary').click()
    for width in at_widths(page):
        assert_fits(page, f'/reception/book at {width} px')
        assert page.evaluate(BOX, '#f-any-reason')['height'] >= FIELD_HEIGHT

    page = as_user(people['patient'], '/patient')
    page.locator('details.appt-cancel summary').first.click()
    for width in at_widths(page):
        assert_fits(page, f'/patient, cancel open, at {width} px')
        reason = page.evaluate(BOX, 'details.appt-cancel[open] input[name=reason]')
        assert reason['height'] >= FIELD_HEIGHT, (width, reason)


def test_scheduled_jobs_and_links_fit_the_admin_pages(as_user, base_url, people):
    page = as_user(people['admin'], '/admin')
    page.goto(f'{base_url}/admin/status')
    for width in at_widths(page):
        assert_fits(page, f'/admin/status at {width} px')
    for path, selector in (('/admin', '.jump a, .page-links a, .table td a:not(.btn)'),
                           ('/admin/staff', '.back a, .item-actions a'),
                           ('/admin/outbox', '.jump a'),
                           ('/admin/status', 'h2 > a, .kv a')):
        page.goto(base_url + path)
        for width in at_widths(page):
            small = [h for h in page.evaluate(HEIGHTS, selector) if h[1] < MIN_TAP]
            assert small == [], f'{path} at {width} px: {small}'


def test_links_a_finger_hits_on_the_other_pages(as_user, base_url, people):
    anonymous = as_user(None, None)
    for path in ('/login', '/register', '/forgot'):
        anonymous.goto(base_url + path)
        for width in at_widths(anonymous):
            small = [h for h in anonymous.evaluate(HEIGHTS, '.center a') if h[1] < MIN_TAP]
            assert small == [], f'{path} at {width} px: {small}'
    pages = ((people['doctor'], '/doctor', [('/doctor', '.page-links a, #reports a'),
                                            ('/doctor/time-off', '.back a')]),
             (people['reception'], '/reception', [('/reception', '.page-links a'),
                                                  (book_path(people), '.back a, .week-day-head')]))
    for email, home, checks in pages:
        page = as_user(email, home)
        for path, selector in checks:
            page.goto(base_url + path)
            for width in at_widths(page):
                found = page.evaluate(HEIGHTS, selector)
                assert found, f'{path}: nothing matches {selector}'
                small = [h for h in found if h[1] < MIN_TAP]
                assert small == [], f'{path} at {width} px: {small}'


def test_the_first_and_last_day_line_up(as_user, base_url, people):
    page = as_user(people['doctor'], '/doctor')
    page.goto(f'{base_url}/doctor/time-off')
    for width in at_widths(page):
        first = page.evaluate(BOX, '#f-start_date')
        last = page.evaluate(BOX, '#f-end_date')
        # Side by side, level; too narrow for two dates, one above the other.
        assert first['top'] == last['top'] or first['left'] == last['left'], (width, first, last)
        assert first['width'] == last['width'] and first['height'] == last['height']
        assert_fits(page, f'/doctor/time-off at {width} px')


def test_two_factor_links_to_the_authenticator_app(as_user, base_url):
    doctor = create_user(base_url, 'doctor', name='Dr Two Factor Link')
    page = as_user(doctor.user['email'], '/doctor')
    page.goto(f'{base_url}/account/2fa')
    page.get_by_role('button', name='Set up two-factor').click()
    link = page.get_by_role('link', name='Open in your authenticator app')
    assert link.get_attribute('href').startswith('otpauth://totp/')
    for width in at_widths(page):
        assert_fits(page, f'/account/2fa at {width} px')
        assert link.bounding_box()['height'] >= FIELD_HEIGHT


def test_the_no_smtp_notice_has_a_box(as_user, app_server, people):
    no_smtp_url = app_server(smtp_host=None)
    page = as_user(None, None)
    log_in(page, no_smtp_url, people['admin'], '/admin')
    page.goto(f'{no_smtp_url}/admin/outbox')
    notice = page.locator('.alert', has_text='No SMTP server is configured')
    style = notice.evaluate('el => { const s = getComputedStyle(el); '
                            'return [s.backgroundColor, s.borderTopStyle]; }')
    assert style[0] != 'rgba(0, 0, 0, 0)' and style[1] == 'solid', style
