"""STAFF_2FA=required in a real browser: a doctor logging in is held at the
enrolment page, scans (here: reads) the key, confirms with a code computed
from it at the app's clock, is shown the recovery codes once, can then use
the app, and at the next login is asked for a code in a second step."""
import datetime

import pyotp
import pytest

from app.clock import UTC
from tests.browser import log_in
from tests.conftest import PASSWORD, MovableClock, create_user

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser


@pytest.fixture
def required(settings, app_server):
    clock = MovableClock(settings.tz, datetime.datetime(2032, 6, 1, 9, 0, 10, tzinfo=UTC))
    return app_server(clock=clock, staff_2fa='required'), clock


def test_staff_are_made_to_enrol_then_log_in_with_a_code(page, js_errors, check_page, required):
    url, clock = required
    doctor = create_user(url, 'doctor')
    log_in(page, url, doctor.user['email'], '/account/2fa')
    assert 'asks every staff member' in page.get_by_role('alert').inner_text()
    check_page(page, 'account-2fa-start')
    # Every other page sends them back here until they enrol.
    page.goto(f'{url}/doctor')
    page.wait_for_url(f'{url}/account/2fa')

    page.get_by_role('button', name='Set up two-factor').click()
    qr = page.get_by_role('img', name='QR code for your authenticator app')
    assert qr.locator('svg path').count() == 1
    check_page(page, 'account-2fa-scan')
    secret = page.locator('#secret').inner_text().strip()
    page.get_by_label('6-digit code').fill(pyotp.TOTP(secret).at(clock.now()))
    page.get_by_role('button', name='Turn on two-factor').click()

    codes = page.locator('.recovery-codes li')
    assert codes.count() == 10
    assert 'will not be shown again' in page.locator('main').inner_text()
    check_page(page, 'account-2fa-codes')
    page.get_by_role('link', name='I have saved them, continue').click()
    page.wait_for_url(f'{url}/doctor')

    page.get_by_role('button', name='Log out').click()
    page.wait_for_url(f'{url}/login')
    page.get_by_label('Email').fill(doctor.user['email'])
    page.get_by_label('Password').fill(PASSWORD)
    page.get_by_role('button', name='Log in').click()
    page.get_by_role('heading', name='Enter your code').wait_for()
    check_page(page, 'login-code')
    clock.advance(30)
    page.get_by_label('Code').fill(pyotp.TOTP(secret).at(clock.now()))
    page.get_by_role('button', name='Log in').click()
    page.wait_for_url(f'{url}/doctor')
    js_errors.assert_none()
