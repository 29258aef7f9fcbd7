"""Every page each role reaches from the menu, and the account, reset,
two-factor and reminder-link pages, at a phone's width (390 px) and a
desktop's (1280 px): nothing scrolls sideways, no JavaScript errors, every
field labelled, one h1 and a title, and buttons a finger can hit (at least
40 px tall) on the phone. One browser, one context per role; a page's
problems are collected so one run names them all."""
import datetime
import re
from urllib.parse import urlsplit

import pyotp
import pytest

from app import auth
from app.auth import hash_password
from app.clock import Clock, fixed_clock
from app.db import database
from app.models import Appointment, LoginThrottle, OutboxMessage, User, utcnow
from app.services import incidents, login_throttle, password_links, reminder_links, reminders
from tests.browser import DESKTOP, OVERFLOW, PHONE, SCREENSHOTS, STRUCTURE, JsErrors, log_in
from tests.conftest import PASSWORD, create_user, unique_email


pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser

HEIGHT = 844
MIN_TAP = 40
# Links that download a file, leave the page's role or change something.
NOT_A_PAGE = re.compile(r'/(download|attachments|api|logout|static)(/|$)|\.(ics|csv|pdf|xlsx)$')

PHONE_CHECKS = """() => {
  const small = [...document.querySelectorAll('button, input[type=submit], input[type=button]')]
    .filter(el => el.getClientRects().length && !el.closest('[aria-hidden="true"]'))
    .filter(el => el.getBoundingClientRect().height < %d)
    .map(el => (el.textContent || el.value).trim().slice(0, 40) + ' '
               + Math.round(el.getBoundingClientRect().height) + 'px');
  return {scrollWidth: document.scrollingElement.scrollWidth, small};
}""" % MIN_TAP


class Visit:
    """One role's browser context and the problems found on its pages."""

    def __init__(self, browser, base_url, role):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.base_url, self.role = base_url, role
        self.context = browser.new_context(viewport={'width': DESKTOP, 'height': HEIGHT})
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors = JsErrors()
        self.page.on('pageerror', self.errors.on_page_error)
        self.page.on('console', self.errors.on_console)
        self.page.on('request', self.errors.on_request)
        self.problems, self.seen = [], set()

    def check(self, name):
        """The checks, on the page as it is now, at both widths."""
        page, where = self.page, f'{self.role} {name} ({urlsplit(self.page.url).path})'
        found = page.evaluate(STRUCTURE)
        if not found['title']:
            self.problems.append(f'{where}: no <title>')
        if found['h1'] != 1:
            self.problems.append(f'{where}: {found["h1"]} h1 elements')
        if found['unlabelled']:
            self.problems.append(f'{where}: unlabelled {found["unlabelled"]}')
        for width in (PHONE, DESKTOP):
            page.set_viewport_size({'width': width, 'height': HEIGHT})
            sizes = page.evaluate(PHONE_CHECKS)
            if sizes['scrollWidth'] > width + 1:
                wide = page.evaluate(OVERFLOW)
                self.problems.append(f'{where}: scrolls sideways at {width} px: {wide["wide"]}')
            if width == PHONE and sizes['small']:
                self.problems.append(f'{where}: small buttons at {width} px: {sizes["small"]}')
            if width == PHONE:
                shot = re.sub(r'[^a-z0-9]+', '-', f'phone {self.role} {name}'.lower()).strip('-')
                page.screenshot(path=str(SCREENSHOTS / f'{shot}.png'), full_page=True)
        page.set_viewport_size({'width': DESKTOP, 'height': HEIGHT})
        if self.errors.errors:
            self.problems.append(f'{where}: {self.errors.errors}')
            self.errors.errors = []

    def open(self, path, name=None, status=None):
        if status:
            self.errors.expect(status, self.base_url + path)
        self.page.goto(self.base_url + path)
        self.seen.add(self.key(path))
        self.check(name or path)

    @staticmethod
    def key(path):
        return re.sub(r'\d+', 'N', urlsplit(path).path)

    def links(self, scope):
        hrefs = self.page.locator(f'{scope} a[href^="/"]').evaluate_all(
            'links => links.map(a => a.getAttribute("href"))')
        return [h.split('#')[0] for h in hrefs if h.split('#')[0] and not NOT_A_PAGE.search(h)]

    def crawl(self, limit=30):
        """The menu's pages, then each page one link away from them."""
        menu = self.links('nav.mainnav')
        for path in menu:
            if self.key(path) not in self.seen:
                self.open(path)
        for path in menu:
            self.page.goto(self.base_url + path)
            for link in self.links('main'):
                if self.key(link) not in self.seen and len(self.seen) < limit:
                    self.open(link)

    def close(self):
        self.context.close()
        return self.problems


def today(settings):
    return Clock(settings.tz).today()


@pytest.fixture(scope='module')
def clinic(base_url, settings):
    """A doctor with a visit today (and reminders queued for it), one
    tomorrow, an open incident, an uncertain message, and a receptionist
    and a patient whose logins are delayed."""
    doctor = create_user(base_url, 'doctor', name='Dr Wide Margins')
    with database.connection_context():
        reception = User.create(email=unique_email('reception'), name='Rita Desk',
                                password_hash=hash_password(PASSWORD), role='reception')
    patient = create_user(base_url, 'patient', name='Penelope Longname-Hyphenated')
    day = today(settings)
    ids = []
    for when, time in ((day + datetime.timedelta(days=1), '10:00'),
                       (day + datetime.timedelta(days=2), '11:30')):
        resp = patient.post('/api/appointments', {'doctor_id': doctor.user['id'],
                                                  'date': when.isoformat(), 'time': time,
                                                  'reason': 'A rather long reason to read'})
        assert resp.status == 201, resp
        ids.append(resp.json['id'])
    with database.connection_context():
        Appointment.update(date=day, time='23:30').where(Appointment.id == ids[0]).execute()
        # As the morning job does: at 08:00 the 23:30 visit is still ahead,
        # whatever the time this test runs.
        morning = fixed_clock(settings.tz, datetime.datetime.combine(day, datetime.time(8)))
        reminders.send_for_day(settings, day, morning)
        incidents.open_incident(settings, 'outbox_delivery', 'failing',
                                'delivery failed 3 times in a row: SMTPServerDisconnected')
        # As if the worker had died while the mail server was taking today's reminder.
        (OutboxMessage.update(status='uncertain')
         .where(OutboxMessage.dedupe_key == reminders.dedupe_key(patient.user['id'], day))
         .execute())
        emails = (patient.user['email'], reception.email)
        for email in emails:
            for _ in range(login_throttle.FREE_TRIES['account']):
                login_throttle.reserve(email, '192.0.2.7')
        # Still delayed when the admin's pages are looked at, a while later.
        (LoginThrottle.update(delayed_until=utcnow() + datetime.timedelta(minutes=15))
         .where(LoginThrottle.account.in_(emails)).execute())
    return {'doctor': doctor, 'patient': patient, 'reception': reception,
            'visit': ids[0], 'next': ids[1]}


def report(problems):
    assert problems == [], '\n'.join(problems)


def test_anonymous_pages(browser, base_url, settings, clinic):
    visit = Visit(browser, base_url, 'anonymous')
    visit.open('/login')
    visit.open('/register')
    visit.open('/forgot')
    visit.open('/reset?token=' + 'x' * 40, 'reset with an expired link', status=400)
    with database.connection_context():
        user = User.get_by_id(clinic['patient'].user['id'])
        token = password_links.issue(user, 'reset')
        appt = Appointment.get_by_id(clinic['next'])
    visit.open(f'/reset?token={token}', 'reset')
    starts = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    for purpose in reminder_links.PURPOSES:
        link = reminder_links.token(settings, purpose, appt.id, appt.patient_id, starts)
        visit.open(f'/r/{link}', f'reminder {purpose}')
    gone = reminder_links.token(settings, 'confirm', appt.id, appt.patient_id,
                                starts - datetime.timedelta(days=5))
    visit.open(f'/r/{gone}', 'reminder link expired', status=410)
    visit.open('/r/not-a-token', 'reminder link broken', status=400)
    # A session that ended: back to the login page with a word about it.
    visit.context.add_cookies([{'name': auth.SESSION_COOKIE, 'value': 'x' * 43,
                                'url': base_url}])
    visit.page.goto(f'{base_url}/reception')
    visit.page.wait_for_url(re.compile(r'/login\?next='))
    assert 'Your session ended' in visit.page.get_by_role('status').inner_text()
    visit.check('session ended')
    report(visit.close())


def test_patient_pages(browser, base_url, clinic, worker):
    visit = Visit(browser, base_url, 'patient')
    page = visit.page
    log_in(page, base_url, clinic['patient'].user['email'], '/patient')
    visit.crawl()
    page.goto(f'{base_url}/patient')
    page.get_by_role('button', name='Export my history').click()
    page.get_by_role('link', name='Download CSV').wait_for()
    started = page.locator('[data-started]').first.inner_text()
    assert re.fullmatch(r'started today at \d\d:\d\d', started), started
    visit.check('export list')
    visit.open('/account')
    report(visit.close())


def test_doctor_pages_and_two_factor(browser, base_url, clinic):
    visit = Visit(browser, base_url, 'doctor')
    page = visit.page
    email = clinic['doctor'].user['email']
    log_in(page, base_url, email, '/doctor')
    visit.crawl()
    visit.open(f'/doctor/appointments/{clinic["visit"]}')
    visit.open('/account/2fa')
    page.get_by_role('button', name='Set up two-factor').click()
    page.locator('#secret').wait_for()
    visit.check('2fa scan')
    secret = page.locator('#secret').inner_text().strip()
    page.get_by_label('6-digit code').fill(pyotp.TOTP(secret).now())
    page.get_by_role('button', name='Turn on two-factor').click()
    page.locator('.recovery-codes li').first.wait_for()
    visit.check('2fa recovery codes')
    visit.open('/account/2fa', '2fa on')
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(f'{base_url}/login')
    page.get_by_label('Email').fill(email)
    page.get_by_label('Password').fill(PASSWORD)
    page.get_by_role('button', name='Log in').click()
    page.get_by_role('heading', name='Enter your code').wait_for()
    visit.check('login code')
    report(visit.close())


def test_reception_pages(browser, base_url, clinic):
    visit = Visit(browser, base_url, 'reception')
    with database.connection_context():
        email = User.create(email=unique_email('reception'), name='Rhea Front',
                            password_hash=hash_password(PASSWORD), role='reception').email
    log_in(visit.page, base_url, email, '/reception')
    visit.crawl()
    visit.open(f'/patients/{clinic["patient"].user["id"]}')
    visit.open('/account')
    report(visit.close())


def test_admin_pages(browser, base_url, clinic):
    visit = Visit(browser, base_url, 'admin')
    admin = create_user(base_url, 'admin')
    log_in(visit.page, base_url, admin.user['email'], '/admin')
    visit.crawl(limit=40)
    visit.open('/admin/outbox?status=uncertain', 'outbox uncertain')
    assert visit.page.get_by_role('button', name=re.compile('^Send again: Reminder')).is_visible()
    visit.open('/admin/status', 'status with an incident')
    assert visit.page.get_by_role('button', name=re.compile('Resolve')).first.is_visible()
    visit.open(f'/patients/{clinic["patient"].user["id"]}', 'locked patient')
    assert visit.page.get_by_role('button', name='Clear lock').is_visible()
    visit.open(f'/admin/staff/{clinic["reception"].id}', 'locked staff member')
    assert visit.page.get_by_role('button', name='Clear lock').is_visible()
    visit.open('/account')
    visit.open('/account/2fa')
    report(visit.close())
