"""The admin invites a receptionist and later deactivates them, in a real
browser, finding fields by their labels (see test_browser_roles)."""
import pytest

from app.db import database
from app.models import User
from app.services import staff
from app.web.staff import STAFF_PAGE
from tests.browser import log_in
from tests.conftest import create_user, unique_email

pytest_plugins = ['tests.browser']


def staff_before(member):
    """How many staff the list shows before `member` (its paging offset),
    rounded down to the start of a page."""
    with database.connection_context():
        _, listed = staff.page(limit=100_000)
    position = [m.id for m in listed].index(member.id)
    return position - position % STAFF_PAGE
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

    # The shared test database holds hundreds of admins, so the list's first
    # page may not reach "R": open her page from the list she is on.
    with database.connection_context():
        rosa = User.by_email(email)
    page.goto(f'{base_url}/admin/staff?offset={staff_before(rosa)}')
    page.get_by_role('link', name='Edit Rosa Reception').click()
    check_page(page, 'admin-staff-member')
    page.get_by_label('Can log in (active)').uncheck()
    page.get_by_role('button', name='Save').click()
    assert 'cannot log in' in page.locator('.flash').inner_text()
    assert page.locator('h1').get_by_text('Inactive').is_visible()
    js_errors.assert_none()
