"""A patient exports their history in a real browser (headless Debian
Chromium through Playwright, shared with tests/browser.py): log in, click
"Export my history", watch it finish, download the CSV; an admin exports all
data from /admin the same way."""
import csv
import datetime
import io

import pytest

from app.db import database
from app.models import Appointment, Export, OutboxMessage, Treatment, User
from app.services import exports
from tests.browser import log_in
from tests.conftest import unique_email

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser


def patient_with_history(base_url, make_user):
    client = make_user(base_url, 'patient', name='Bea Browser')
    with database.connection_context():
        doctor = User.create(email=unique_email('doctor'), password_hash='-', name='Dr Lin, "Sam"',
                             role='doctor', specialization='Dermatology')
        for day, status in (('2025-02-10', 'completed'), ('2025-01-05', 'cancelled')):
            appt = Appointment.create(patient=client.user['id'], doctor=doctor, time='10:00',
                                      date=datetime.date.fromisoformat(day), status=status)
            if status == 'completed':
                Treatment.create(appointment=appt, diagnosis='Eczema', treatment='Emollients',
                                 prescription='=HYPERLINK("x")')
    return client.user['email']


def test_patient_clicks_export_and_downloads_the_csv(page, base_url, make_user, worker):
    email = patient_with_history(base_url, make_user)

    log_in(page, base_url, email, '/patient')

    page.get_by_role('button', name='Export my history').click()
    link = page.get_by_role('link', name='Download CSV')
    link.wait_for(state='visible')
    assert page.get_by_text('Ready: 2 appointments.').is_visible()
    assert not page.get_by_role('button', name='Try again').is_visible()

    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.endswith('.csv')
    with open(download.path(), encoding='utf-8', newline='') as fh:
        rows = list(csv.reader(io.StringIO(fh.read(), newline='')))
    assert rows[0] == ['date', 'time', 'doctor', 'specialization', 'status', 'diagnosis',
                       'treatment', 'prescription']
    assert rows[1:] == [
        ['2025-01-05', '10:00', 'Dr Lin, "Sam"', 'Dermatology', 'cancelled', '', '', ''],
        ['2025-02-10', '10:00', 'Dr Lin, "Sam"', 'Dermatology', 'completed', 'Eczema',
         'Emollients', '\'=HYPERLINK("x")'],
    ]


def test_admin_exports_all_data_from_the_dashboard(page, base_url, make_user, worker,
                                                   check_page):
    admin = make_user(base_url, 'admin')
    log_in(page, base_url, admin.user['email'], '/admin')

    page.get_by_role('button', name='Export all data').click()
    link = page.locator('#exports').get_by_role('link', name='Download CSV')
    link.wait_for(state='visible')
    with page.expect_download() as info:
        link.click()
    with open(info.value.path(), encoding='utf-8', newline='') as fh:
        header = next(csv.reader(fh))
    assert header[:3] == ['patient_email', 'patient_name', 'date']
    check_page(page, 'admin-exports')


def test_expired_export_says_so_after_a_reload_and_try_again_makes_a_new_one(
        page, base_url, make_user, worker, settings):
    email = patient_with_history(base_url, make_user)
    log_in(page, base_url, email, '/patient')
    page.get_by_role('button', name='Export my history').click()
    page.get_by_role('link', name='Download CSV').wait_for(state='visible')
    with database.connection_context():
        export = Export.select().join(User, on=(Export.requester == User.id)).where(
            User.email == email).get()
        old = export.finished_at - datetime.timedelta(days=settings.export_retention_days + 1)
        Export.update(finished_at=old).where(Export.id == export.id).execute()
        exports.delete_expired(settings)

    page.reload()
    page.get_by_text('This export has expired').wait_for()
    assert page.get_by_role('link', name='Download CSV').count() == 0
    page.get_by_role('button', name='Try again').click()

    page.get_by_role('link', name='Download CSV').wait_for(state='visible')
    assert page.get_by_role('button', name='Try again').is_hidden()


def test_three_quick_clicks_make_one_export_shown_once_with_its_clinic_time(
        page, base_url, make_user, worker, settings):
    email = patient_with_history(base_url, make_user)
    log_in(page, base_url, email, '/patient')
    button = page.get_by_role('button', name='Export my history')
    for _ in range(3):
        button.click()
    page.get_by_role('link', name='Download CSV').wait_for(state='visible')
    button.click()  # just after it finished: the same export, not a new one
    assert page.locator('#export .export-item').count() == 1

    with database.connection_context():
        mine = list(Export.select().join(User, on=(Export.requester == User.id))
                    .where(User.email == email))
        assert len(mine) == 1
        export = mine[0]
        assert OutboxMessage.select().where(
            OutboxMessage.dedupe_key == f'export:{export.id}').count() == 1
    started = export.created_at.replace(tzinfo=datetime.timezone.utc).astimezone(settings.tz)
    shown = page.locator('#export .export-item [data-started]').text_content()
    assert shown in {f"started today at {started + datetime.timedelta(minutes=m):%H:%M}"
                     for m in (0, 1)}

    page.reload()  # after a reload the list says when it was started, from the server
    item = page.locator('#export .export-item')
    item.get_by_role('link', name='Download CSV').wait_for(state='visible')
    assert item.locator('[data-started]').text_content() == f'started today at {started:%H:%M}'
    button.click()
    assert page.locator('#export .export-item').count() == 1
