"""The account pages in a real browser: an admin (the widest menu) finds
"Account" in the menu, changes the password, sees where they are logged in
and signs out everywhere else; the forgot-password page from the login
page. Every page visited gets `check_page` (phone and desktop widths)."""
import re

import pytest

from tests.browser import log_in
from tests.client import Client
from tests.conftest import PASSWORD, create_user

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser


def test_admin_changes_password_and_signs_out_everywhere_else(page, js_errors, check_page,
                                                              base_url):
    admin = create_user(base_url, 'admin')
    email = admin.user['email']
    log_in(page, base_url, email, '/admin')
    page.get_by_role('navigation', name='Main').get_by_role('link', name='Account').click()
    page.wait_for_url(f'{base_url}/account')
    assert page.get_by_text('(this device)').is_visible()
    check_page(page, 'account')

    page.get_by_label('Current password').fill(PASSWORD)
    page.get_by_label('New password').fill('a-brand-new-secret')
    page.get_by_role('button', name='Change password').click()
    page.wait_for_url(f'{base_url}/account')
    assert 'Your password is changed' in page.get_by_role('status').first.inner_text()
    assert admin.get('/api/me').status == 401  # the other session ended

    elsewhere = Client(base_url).login(email, 'a-brand-new-secret')
    page.reload()
    page.get_by_role('button', name='Sign out everywhere else').click()
    page.wait_for_url(re.compile(r'/account#sessions$'))
    assert page.get_by_text('You are logged in only here.').is_visible()
    assert elsewhere.get('/api/me').status == 401
    check_page(page, 'account-alone')


def test_forgot_password_from_the_login_page(page, js_errors, check_page, base_url):
    page.goto(f'{base_url}/login')
    page.get_by_role('link', name='Forgot your password?').click()
    page.wait_for_url(f'{base_url}/forgot')
    check_page(page, 'forgot')
    page.get_by_label('Email').fill('nobody-at-all@example.test')
    page.get_by_role('button', name='Send the link').click()
    page.get_by_text('a link to choose a new password is on its way').wait_for()
    check_page(page, 'forgot-sent')
