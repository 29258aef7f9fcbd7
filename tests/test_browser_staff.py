"""The admin invites a receptionist and later deactivates them, in a real
browser, finding fields by their labels (see test_browser_roles)."""
import pytest

from tests.browser import log_in
from tests.conftest import create_user, unique_email

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser


def test_admin_invites_a_receptionist_and_deactivates_them(page, js_errors, check_page,
                                                           base_url):
    admin = create_user(base_url, 'admin')
    log_in(page, base_url, admin.user['email'], '/admin')
    page.get_by_role('link', name='Staff accounts').click()
    page.wait_for_url(f'{base_url}/admin/staff')
    check_page(page, 'admin-staff')

    email = unique_email('reception')
    invite = page.locator('#invite')
    invite.get_by_label('Name').fill('Rosa Reception')
    invite.get_by_label('Email').fill(email)
    invite.get_by_label('Role').select_option('reception')
    invite.get_by_role('button', name='Send invitation').click()
    page.wait_for_url(f'{base_url}/admin/staff#staff')
    assert email in page.locator('.flash').inner_text()

    page.get_by_role('link', name='Edit Rosa Reception').click()
    check_page(page, 'admin-staff-member')
    page.get_by_label('Can log in (active)').uncheck()
    page.get_by_role('button', name='Save').click()
    assert 'cannot log in' in page.locator('.flash').inner_text()
    assert page.locator('h1').get_by_text('Inactive').is_visible()
    js_errors.assert_none()
