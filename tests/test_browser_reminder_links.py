"""A patient answers a reminder on a phone (SPEC §11): from the outbox's copy
of the email, Confirm, then Reschedule to another free time, with no login;
the pages fit a phone's width."""
import datetime

import pytest

from app.clock import fixed_clock
from app.db import database
from app.models import Appointment, OutboxMessage
from app.services import reminders
from tests.browser import PHONE, check_structure, check_width
from tests.calendar_site import new_doctor, site
from tests.conftest import create_user

pytest_plugins = ['tests.browser']

UTC = datetime.timezone.utc
# A Tuesday morning of this module's own.
NOW = datetime.datetime(2034, 5, 2, 7, 30, tzinfo=UTC)
DAY = NOW.date()


@pytest.fixture
def reminded(settings, base_url):
    """A visit at 14:00 today and the reminder email the outbox holds for it."""
    owner = create_user(base_url, 'patient', name='Nadia Petrova')
    doctor_id = new_doctor(week=tuple((d, '09:00', '17:00') for d in range(7)),
                           name='Dr Ines Duarte')
    with database.connection_context():
        appt = Appointment.create(patient=owner.user['id'], doctor=doctor_id, date=DAY,
                                  time='14:00', created_at=datetime.datetime(2034, 1, 1))
    return appt, owner


def test_patient_confirms_then_reschedules_from_the_email_on_a_phone(
        settings, reminded, browser, page, js_errors):
    appt, owner = reminded
    with site(settings, now=NOW) as server:
        clinic = settings.with_changes(base_url=server.url, clinic_address='2 Quay Street',
                                       clinic_phone='+1 555 0100')
        with database.connection_context():
            reminders.send_for_day(clinic, DAY, fixed_clock(UTC, NOW))
            email = OutboxMessage.get(OutboxMessage.dedupe_key
                                      == reminders.dedupe_key(owner.user['id'], DAY))
        page.set_viewport_size({'width': PHONE, 'height': 900})
        page.set_content(email.html_body)

        page.get_by_role('link', name='Confirm').click()
        page.wait_for_url(f'{server.url}/r/confirm.*')
        assert 'Dr Ines Duarte' in page.inner_text('main') and '14:00' in page.inner_text('main')
        check_structure(page)
        check_width(page, 'reminder-link', PHONE)
        page.get_by_role('button', name='Confirm').click()
        page.get_by_text('your appointment is confirmed').wait_for()
        check_width(page, 'reminder-link-confirmed', PHONE)

        page.set_content(email.html_body)
        page.get_by_role('link', name='Reschedule').click()
        page.wait_for_url(f'{server.url}/r/reschedule.*')
        page.get_by_role('heading', name='Other times with Dr Ines Duarte').wait_for()
        check_width(page, 'reminder-link-reschedule', PHONE)
        page.get_by_role('button', name='Tue 2 May 2034, 09:00').click()
        page.get_by_text('Your appointment is moved to Tue 2 May 2034, 09:00').wait_for()

    with database.connection_context():
        row = Appointment.get_by_id(appt.id)
    assert (row.time, row.ics_sequence) == ('09:00', 1)
    assert row.confirmed_at == NOW.replace(tzinfo=None)
