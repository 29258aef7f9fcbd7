"""The receptionist's morning in Chromium, on a tablet and at a desktop
(SPEC §9): find a patient by a few digits of their phone, register a walk-in
without an email, book the walk-in a free time from the week view, check in
a patient who has arrived, move a visit to a later time and print the day.
Every page the desk opens passes the page checks and shows no clinical text,
though the patient found has a recorded visit."""
import datetime
import re
import uuid

import pytest

from app.auth import hash_password
from app.db import database
from app.models import Appointment, Treatment, User
from app.web.templating import nice_date
from tests.browser import HEIGHT, check_width, log_in
from tests.calendar_site import new_doctor, site
from tests.conftest import PASSWORD, create_user
from tests.test_browser_reception import pdf_pages, pdf_text

pytest_plugins = ['tests.browser']
pytestmark = pytest.mark.browser

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
# Each screen has a Monday of its own, 08:10 clinic time (the test zone is
# UTC), so each day list holds only its own visits. With the 60-minute
# notice the first free start today is 09:30.
SCREENS = {'tablet': ({'width': 820, 'height': 1180},
                      datetime.datetime(2035, 5, 7, 8, 10, tzinfo=UTC)),
           'desktop': ({'width': 1280, 'height': HEIGHT},
                       datetime.datetime(2035, 5, 14, 8, 10, tzinfo=UTC))}
EVERY_DAY_NINE_TO_FIVE = tuple((weekday, '09:00', '17:00') for weekday in range(7))
CLINICAL = ('Acute otitis media', 'Amoxicillin 500 mg', 'Ear drops and rest')


def flash(page):
    return page.get_by_role('status').filter(has_text=re.compile('.')).first


def short(day, time):
    return f'{day:%a} {day.day} {day:%b %Y}, {time}'


def spoken(day, time, doctor_name):
    return f'{day:%A} {day.day} {day:%B %Y}, {time}, {doctor_name}'


@pytest.fixture(params=sorted(SCREENS))
def morning(request, settings):
    """The clinic at 08:10 on the screen's Monday: a doctor, a patient with a
    recorded visit yesterday and a visit at 09:00 today, a receptionist."""
    viewport, now = SCREENS[request.param]
    tag = uuid.uuid4().hex[:6]
    today = now.date()
    with site(settings, now=now) as server:
        doctor_name = f'Dr Mira Holm {tag}'
        doctor = new_doctor(week=EVERY_DAY_NINE_TO_FIVE, name=doctor_name)
        phone = f'0700 {int(tag, 16) % 1_000_000:06d}'
        patient = create_user(server.url, 'patient', name=f'Ines Arden {tag}', phone=phone)
        email = f'reception-{tag}@example.test'
        with database.connection_context():
            User.create(email=email, password_hash=hash_password(PASSWORD),
                        name='Rita Desk', role='reception')
            past = Appointment.create(doctor=doctor, patient=patient.user['id'],
                                      date=today - DAY, time='10:00', status='completed')
            Treatment.create(appointment=past, diagnosis=CLINICAL[0],
                             prescription=CLINICAL[1], treatment=CLINICAL[2])
            Appointment.create(doctor=doctor, patient=patient.user['id'], date=today,
                               time='09:00', status='booked')
        yield {'url': server.url, 'email': email, 'viewport': viewport, 'today': today,
               'doctor': doctor_name, 'patient': patient.user['name'], 'phone': phone,
               'walk_in': f'Theo Walker {tag}', 'name': request.param}


def look(page, morning, step, check_page):
    """The checks every page the desk opens passes, at both widths and at
    this screen's; then back to this screen."""
    check_page(page, f'morning-{step}')
    check_width(page, f'morning-{step}', morning['viewport']['width'])
    page.set_viewport_size(morning['viewport'])
    text = page.content()
    for clinical in CLINICAL:
        assert clinical not in text, f'{clinical!r} is shown to reception on {page.url}'


def row(page, name, time):
    return page.locator('#day tbody tr').filter(has_text=name).filter(has_text=time)


def test_the_receptionists_morning(page, morning, check_page):
    url, today, doctor = morning['url'], morning['today'], morning['doctor']
    patient, walk_in = morning['patient'], morning['walk_in']
    page.set_viewport_size(morning['viewport'])

    log_in(page, url, morning['email'], '/reception')
    assert page.get_by_role('heading', level=1).inner_text() == f'Front desk · {nice_date(today)}'
    assert row(page, patient, '09:00').get_by_role('button', name=f'Check in {patient}, 09:00') \
        .is_visible()
    look(page, morning, 'day', check_page)

    search_for_the_patient_by_phone_digits(page, morning, check_page)
    walk_in_id = register_the_walk_in(page, morning, check_page)
    book_the_walk_in_today(page, morning, check_page, walk_in_id)

    page.get_by_role('button', name=f'Check in {patient}, 09:00').click()
    page.wait_for_url(f'{url}/reception?date={today}')
    assert flash(page).inner_text() == f'{patient} checked in (09:00, {doctor}).'
    checked = row(page, patient, '09:00')
    assert checked.locator('td[data-label="Checked in"]').inner_text().strip() == '08:10'
    assert checked.get_by_role('button', name=re.compile('^Check in')).count() == 0
    look(page, morning, 'checked-in', check_page)

    move_the_walk_in_to_a_later_time(page, morning, check_page)
    print_the_day(page, morning)


def search_for_the_patient_by_phone_digits(page, morning, check_page):
    digits = morning['phone'].replace(' ', '')[-6:]
    page.get_by_label('Name, phone or email').fill(digits)
    page.get_by_role('button', name='Search', exact=True).click()
    page.wait_for_url(re.compile(r'/reception\?q=\d+'))
    found = page.locator('.desk-found li')
    assert found.count() == 1
    assert morning['patient'] in found.inner_text() and morning['phone'] in found.inner_text()
    assert found.get_by_role('link', name=f'Book for {morning["patient"]}').is_visible()
    look(page, morning, 'search', check_page)

    found.get_by_role('link', name=morning['patient'], exact=True).click()
    page.wait_for_url(re.compile(r'/patients/\d+$'))
    assert page.get_by_role('heading', level=1).inner_text() == morning['patient']
    assert page.get_by_label('Phone (optional)', exact=True).input_value() == morning['phone']
    look(page, morning, 'patient', check_page)
    page.get_by_role('link', name='← Front desk').click()
    page.wait_for_url(f'{morning["url"]}/reception')


def register_the_walk_in(page, morning, check_page):
    page.get_by_role('link', name='New walk-in').click()
    page.wait_for_url(f'{morning["url"]}/patients/new')
    look(page, morning, 'walk-in', check_page)
    page.get_by_label('Name', exact=True).fill(morning['walk_in'])
    page.get_by_label('Phone (optional)', exact=True).fill('07700 900 461')
    page.get_by_label('Date of birth (optional)', exact=True).fill('1990-04-12')
    page.get_by_role('button', name='Register patient').click()
    page.wait_for_url(re.compile(r'/patients/\d+$'))
    assert flash(page).inner_text().startswith(f'Registered {morning["walk_in"]}.')
    assert 'invitation' not in flash(page).inner_text()
    assert page.get_by_text('No email').is_visible()
    assert page.get_by_label('Date of birth (optional)', exact=True).input_value() == '1990-04-12'
    look(page, morning, 'registered', check_page)
    return int(page.url.rsplit('/', 1)[1])


def book_the_walk_in_today(page, morning, check_page, walk_in_id):
    url, today, doctor, walk_in = morning['url'], morning['today'], morning['doctor'], \
        morning['walk_in']
    page.get_by_role('link', name=f'Book for {walk_in}').click()
    page.wait_for_url(f'{url}/reception/book?patient_id={walk_in_id}')
    assert page.get_by_role('heading', level=1).inner_text() == f'Book for {walk_in}'
    page.get_by_label('Doctor', exact=True).select_option(label=f'{doctor} (General practice)')
    page.get_by_role('button', name='Show free times').click()
    page.wait_for_url(re.compile(r'/reception/book\?patient_id=\d+&doctor_id=\d+'))
    # Within the hour's notice: 09:00 is not offered, 09:30 is.
    assert page.get_by_role('link', name=spoken(today, '09:00', doctor)).count() == 0
    assert page.get_by_role('link', name=spoken(today, '09:30', doctor)).is_visible()
    look(page, morning, 'book-week', check_page)

    page.get_by_role('link', name=spoken(today, '10:00', doctor), exact=True).click()
    page.wait_for_url(re.compile(r'time=10%3A00'))
    assert page.get_by_label('10:00', exact=True).is_checked()
    look(page, morning, 'book-confirm', check_page)
    page.get_by_role('button', name=f'Book for {walk_in}').click()
    page.wait_for_url(f'{url}/reception?date={today}')
    assert flash(page).inner_text() == f'Booked: {walk_in}, {short(today, "10:00")} with {doctor}.'
    booked = row(page, walk_in, '10:00')
    assert doctor in booked.inner_text() and '07700 900 461' in booked.inner_text()
    assert booked.get_by_role('button', name=f'Check in {walk_in}, 10:00').is_visible()
    look(page, morning, 'booked', check_page)


def move_the_walk_in_to_a_later_time(page, morning, check_page):
    url, today, doctor, walk_in = morning['url'], morning['today'], morning['doctor'], \
        morning['walk_in']
    page.get_by_role('link', name=f'Reschedule {walk_in}, 10:00').click()
    page.wait_for_url(re.compile(r'/appointments/\d+/reschedule\?next='))
    assert page.get_by_role('heading', level=1).inner_text() == 'Reschedule an appointment'
    assert page.get_by_text(f'Patient: {walk_in}').is_visible()
    page.get_by_role('link', name=spoken(today, '11:30', doctor), exact=True).click()
    page.wait_for_url(re.compile(r'time=11%3A30'))
    look(page, morning, 'reschedule', check_page)
    page.get_by_role('button', name='Move appointment').click()
    page.wait_for_url(f'{url}/reception?date={today}')
    assert flash(page).inner_text() == f'Moved: {short(today, "10:00")} → {short(today, "11:30")}'
    assert row(page, walk_in, '11:30').count() == 1
    assert row(page, walk_in, '10:00').count() == 0
    look(page, morning, 'moved', check_page)


def print_the_day(page, morning):
    """Printed (to PDF, as the print dialog would): one page with both
    visits in time order and the check-in time, and none of the controls."""
    page.goto(f'{morning["url"]}/reception')
    pdf = page.pdf(format='A4')
    assert pdf_pages(pdf) == 1
    text = pdf_text(pdf)
    for shown in (morning['patient'], morning['walk_in'], morning['doctor'], '08:10',
                  '09:00', '11:30'):
        assert shown in text, f'{shown!r} is not on the printed page:\n{text}'
    assert text.index(morning['patient']) < text.index(morning['walk_in'])
    for hidden in ('Log out', 'Rita Desk', 'Find a patient', 'Check in', 'Reschedule',
                   'Cancel', 'Print the day list') + CLINICAL:
        assert hidden not in text, f'{hidden!r} is printed:\n{text}'
