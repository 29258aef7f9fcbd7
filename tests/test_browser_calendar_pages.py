"""An admin edits a doctor's week on a tablet in a real browser: finds the
doctor, adds a break with "Add a range", saves, and adds a clinic holiday.
Fields and buttons are found by their labels, so the test proves them."""
import datetime
import re
import uuid

import pytest

from app.clock import Clock
from tests.browser import log_in
from tests.conftest import create_user

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser

TABLET = {'width': 768, 'height': 1024}


def test_admin_sets_a_lunch_break_and_a_holiday_on_a_tablet(
        page, check_page, base_url, settings):
    name = f'Dr Tab {uuid.uuid4().hex[:6]}'
    doctor = create_user(base_url, 'doctor', name=name)
    admin = create_user(base_url, 'admin')
    page.set_viewport_size(TABLET)
    log_in(page, base_url, admin.user['email'], '/admin')

    page.get_by_role('link', name=f'Hours of {name}').click()
    page.wait_for_url(re.compile(r'/admin/doctors/\d+/hours$'))
    check_page(page, 'hours')
    page.set_viewport_size(TABLET)
    page.get_by_label('To (Monday, range 1)').fill('12:00')
    page.get_by_role('button', name='Add a range to Monday').click()
    expect_focus = page.get_by_label('From (Monday, range 2)')
    assert expect_focus.evaluate('el => el === document.activeElement')
    expect_focus.fill('13:00')
    page.get_by_label('To (Monday, range 2)').fill('17:00')
    page.get_by_role('button', name='Save hours', exact=True).click()
    page.wait_for_url(re.compile(r'/admin/doctors/\d+/hours$'))
    assert 'Mon 09:00–12:00, 13:00–17:00' in page.get_by_role('status').first.inner_text()
    hours = admin.get(f'/api/doctors/{doctor.user["id"]}/hours').json['hours']
    assert [h for h in hours if h['weekday'] == 0] == [
        {'weekday': 0, 'start': '09:00', 'end': '12:00'},
        {'weekday': 0, 'start': '13:00', 'end': '17:00'}]

    page.goto(f'{base_url}/admin/time-off')
    check_page(page, 'time-off')
    page.set_viewport_size(TABLET)
    day = Clock(settings.tz).today() + datetime.timedelta(days=80)
    page.get_by_label('For').select_option(label=f'{name} · General practice')
    page.get_by_label('First day').fill(day.isoformat())
    page.get_by_label('Reason').fill('Course')
    page.get_by_role('button', name='Add time off').click()
    page.wait_for_url(re.compile(r'/admin/time-off/\d+$'))
    assert 'No booked visit falls in this time off' in page.content()
    check_page(page, 'time-off-entry')
    page.get_by_role('button', name='Delete this time off').click()
    page.wait_for_url(f'{base_url}/admin/time-off')

    page.goto(f'{base_url}/admin/doctors/{doctor.user["id"]}')
    check_page(page, 'admin-doctor')
