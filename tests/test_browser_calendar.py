"""A patient on a phone books a slot from the week view by its accessible
name, then moves it to a slot of the next week with the keyboard, in a real
browser (headless Debian Chromium via Playwright) against the real app and
worker; the patient gets the "moved" email from the outbox over SMTP."""
import datetime
import re
import uuid

import pytest

from app.clock import Clock
from app.db import database
from app.models import OutboxMessage
from tests.browser import log_in
from tests.conftest import create_user, wait_until

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser

DAY = datetime.timedelta(days=1)
PHONE = {'width': 390, 'height': 844}

FOCUS = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  return {focusVisible: el.matches(':focus-visible'),
          ring: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
                || style.boxShadow !== 'none'};
}"""


def said(day, time):
    """'Tuesday 14 May 2026, 09:30', as slot names and the email say it."""
    return f'{day:%A} {day.day} {day:%B %Y}, {time}'


def spoken(day, time, doctor_name):
    return f'{said(day, time)}, {doctor_name}'


def short(day, time):
    return f'{day:%a} {day.day} {day:%b %Y}, {time}'


def flash(page):
    return page.get_by_role('status').filter(has_text=re.compile('.')).first


def stacked(page):
    """The week's first two days sit one above the other."""
    first, second = (page.locator('.week-day').nth(i).bounding_box() for i in (0, 1))
    return second['y'] >= first['y'] + first['height'] - 1 and abs(second['x'] - first['x']) < 1


def test_patient_on_a_phone_books_from_the_week_and_moves_it_to_next_week(
        page, js_errors, check_page, base_url, settings, smtp, worker):
    doctor_name = f'Dr Ana Ruiz {uuid.uuid4().hex[:6]}'
    create_user(base_url, 'doctor', name=doctor_name, specialization='Dermatology')
    patient = create_user(base_url, 'patient', name='Pia Phone')
    email = patient.user['email']
    today = Clock(settings.tz).today()
    first_day, new_day = today + 2 * DAY, today + 8 * DAY

    page.set_viewport_size(PHONE)
    log_in(page, base_url, email, '/patient')
    page.get_by_label('Doctor').select_option(label=f'{doctor_name} (Dermatology)')
    page.get_by_role('button', name='Show free times').click()
    page.wait_for_url(re.compile(r'/patient\?doctor_id=\d+'))
    assert stacked(page)
    check_page(page, 'calendar-week')
    page.set_viewport_size(PHONE)

    page.get_by_role('link', name=spoken(first_day, '10:00', doctor_name), exact=True).click()
    page.wait_for_url(re.compile(r'time=10%3A00'))
    assert page.get_by_label('10:00', exact=True).is_checked()
    page.get_by_label('Reason for the visit').fill('Mole check')
    page.get_by_role('button', name='Book', exact=True).click()
    page.wait_for_url(f'{base_url}/patient')
    assert f'{short(first_day, "10:00")} with {doctor_name}' in flash(page).inner_text()

    upcoming = page.locator('#upcoming')
    upcoming.get_by_role('link', name=re.compile('^Reschedule')).click()
    page.wait_for_url(re.compile(r'/appointments/\d+/reschedule$'))
    assert page.get_by_role('heading', level=1).inner_text() == 'Reschedule an appointment'
    assert page.locator('#from').get_by_text('10:00').is_visible()
    page.get_by_role('navigation', name=f'Weeks with {doctor_name}') \
        .get_by_role('link', name='Next week →').click()
    page.wait_for_url(re.compile(rf'week={today + 7 * DAY}'))
    assert stacked(page)
    check_page(page, 'calendar-reschedule')
    page.set_viewport_size(PHONE)

    # With the keyboard: Tab onto the slot from the one before it, Enter.
    page.get_by_role('link', name=spoken(new_day, '14:00', doctor_name), exact=True).focus()
    page.keyboard.press('Tab')
    target = page.get_by_role('link', name=spoken(new_day, '14:30', doctor_name), exact=True)
    assert target.evaluate('el => el === document.activeElement')
    ring = page.evaluate(FOCUS)
    assert ring['focusVisible'] and ring['ring'], ring
    page.keyboard.press('Enter')
    page.wait_for_url(re.compile(r'time=14%3A30'))
    assert page.get_by_label('14:30', exact=True).is_checked()
    page.get_by_role('button', name='Move appointment').click()
    page.wait_for_url(f'{base_url}/patient')
    assert (f'Moved: {short(first_day, "10:00")} → {short(new_day, "14:30")}'
            in flash(page).inner_text())
    assert upcoming.get_by_text('14:30').is_visible()
    assert upcoming.get_by_text(f'Moved from {short(first_day, "10:00")}').is_visible()
    check_page(page, 'calendar-moved')

    with database.connection_context():
        queued = list(OutboxMessage.select()
                      .where(OutboxMessage.to == email,
                             OutboxMessage.subject.startswith('Appointment moved')))
    assert [m.subject for m in queued] == [
        f'Appointment moved to {said(new_day, "14:30")}']
    sent = wait_until(lambda: smtp.to(email), timeout=20, message='the moved email')
    body = sent[0].get_body(preferencelist=('plain',)).get_content()
    assert f'Before: {said(first_day, "10:00")} with {doctor_name}' in body
    assert f'Now:    {said(new_day, "14:30")} with {doctor_name}' in body
    js_errors.assert_none()
