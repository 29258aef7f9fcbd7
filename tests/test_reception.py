"""The front desk of SPEC §9 over real HTTP: check-in (who may, once, only
a booked visit), the day list across doctors in time order with who is late,
the patient search, booking for a patient on the week view and outside hours,
and no clinical text on the desk's pages. The app's clock stands still on a
Monday of its own, so the day's list holds only this module's visits."""
import datetime
import re

import pytest

from app.db import database
from app.models import Appointment, AuditEvent, Treatment
from tests.calendar_site import at, reception, site
from tests.client import Client
from tests.conftest import create_user
from tests.test_pages import Page, location, submit

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
# Monday 08:10 clinic time (the test zone is UTC), in a year no other module uses.
NOW = datetime.datetime(2033, 6, 6, 8, 10, tzinfo=UTC)
TODAY = NOW.date()
EVERY_DAY = tuple((d, '09:00', '17:00') for d in range(7))


@pytest.fixture(scope='module')
def clinic(settings):
    with site(settings, now=NOW) as server:
        yield server


@pytest.fixture(scope='module')
def people(clinic):
    url = clinic.url
    return {'anon': Client(url),
            'patient': create_user(url, 'patient', name='Pia Patient', phone='+44 20 7946 0001'),
            'doctor': create_user(url, 'doctor', name='Dr Ada Field', week=EVERY_DAY),
            'other_doctor': create_user(url, 'doctor', name='Dr Ben Marsh', week=EVERY_DAY),
            'reception': reception(url),
            'admin': at(create_user(url, 'admin'), url)}


def visit(doctor, patient, day, time, status='booked', **fields):
    """An appointment written straight to the database: the desk's list
    shows visits in the past too, which no booking can make."""
    with database.connection_context():
        return Appointment.create(doctor=doctor.user['id'], patient=patient.user['id'], date=day,
                                  time=time, status=status, **fields).id


def check_in(client, appointment_id):
    return client.post(f'/api/appointments/{appointment_id}/check-in')


def test_reception_checks_a_patient_in_once_and_it_is_audited(people):
    appt = visit(people['doctor'], people['patient'], TODAY, '15:00')
    resp = check_in(people['reception'], appt)
    assert resp.status == 200, resp
    assert resp.json['id'] == appt
    assert resp.json['checked_in_at'] == NOW.isoformat(timespec='seconds')
    assert check_in(people['reception'], appt).status == 409
    assert check_in(people['admin'], appt).status == 409
    with database.connection_context():
        assert Appointment.get_by_id(appt).checked_in_at == NOW.replace(tzinfo=None)
        entries = list(AuditEvent.select().where(AuditEvent.target == f'appointment:{appt}',
                                                 AuditEvent.action == 'appointment.check_in'))
    assert len(entries) == 1 and entries[0].actor_role == 'reception'


def test_admin_and_the_visits_own_doctor_check_in_too(people):
    by_admin = visit(people['doctor'], people['patient'], TODAY, '15:20')
    by_doctor = visit(people['doctor'], people['patient'], TODAY, '15:40')
    assert check_in(people['admin'], by_admin).status == 200
    assert check_in(people['doctor'], by_doctor).status == 200


def test_another_doctors_appointment_is_404_and_patients_and_strangers_are_refused(people):
    appt = visit(people['doctor'], people['patient'], TODAY + DAY, '12:00')
    assert check_in(people['other_doctor'], appt).status == 404
    assert check_in(people['patient'], appt).status == 403
    assert check_in(people['anon'], appt).status == 401
    assert check_in(people['reception'], 999999999).status == 404


def test_a_patient_is_checked_in_on_the_day_of_the_visit_only(people):
    for day in (TODAY + DAY, TODAY + 14 * DAY, TODAY - DAY):
        appt = visit(people['doctor'], people['patient'], day, '14:00')
        resp = check_in(people['reception'], appt)
        assert resp.status == 409 and resp.json == {'error': (
            f'the appointment is on {day.isoformat()}; patients are checked in on the day '
            'of their visit')}, resp
        with database.connection_context():
            assert Appointment.get_by_id(appt).checked_in_at is None


def test_only_a_booked_appointment_is_checked_in(people):
    for status in ('cancelled', 'completed', 'no_show'):
        appt = visit(people['doctor'], people['patient'], TODAY - DAY, '09:00', status=status)
        resp = check_in(people['reception'], appt)
        assert resp.status == 409, (status, resp)
        assert 'not booked' in resp.json['error']


def test_check_in_needs_the_csrf_token(people):
    appt = visit(people['doctor'], people['patient'], TODAY + DAY, '12:30')
    resp = people['reception'].post(f'/api/appointments/{appt}/check-in', csrf=False)
    assert resp.status == 403


def day_rows(html):
    """[(time, patient, doctor, row html)] of the day list, top to bottom."""
    rows = re.findall(r'<tr id="appt-\d+"[^>]*>(.*?)</tr>', html, re.S)
    found = []
    for cells in rows:
        text = [re.sub(r'<[^>]+>|\s+', ' ', c).strip()
                for c in re.findall(r'<td[^>]*>(.*?)</td>', cells, re.S)]
        found.append((text[0].split()[0], text[1], text[2], cells))
    return found


def test_the_day_list_holds_every_doctor_in_time_order(people):
    day = TODAY + 2 * DAY
    ada, ben, pia = people['doctor'], people['other_doctor'], people['patient']
    url = people['anon'].base_url
    late, early, waiting, gone = (create_user(url, 'patient', name=f'Patient {n}')
                                  for n in ('Late', 'Early', 'Waiting', 'Gone'))
    visit(ben, early, day, '09:30')
    visit(ada, pia, day, '07:00')
    visit(ben, late, day, '07:30')
    visit(ada, waiting, day, '07:15', checked_in_at=datetime.datetime(2033, 6, 8, 7, 5))
    visit(ada, gone, day, '08:00', status='cancelled')
    html = people['reception'].get(f'/reception?date={day.isoformat()}').text
    rows = day_rows(html)
    assert [(t, d) for t, _, d, _ in rows] == [
        ('07:00', 'Dr Ada Field'), ('07:15', 'Dr Ada Field'), ('07:30', 'Dr Ben Marsh'),
        ('08:00', 'Dr Ada Field'), ('09:30', 'Dr Ben Marsh')]
    assert 'Pia Patient' in rows[0][1] and '+44 20 7946 0001' in rows[0][1]
    assert 'Check in' not in html  # patients are checked in on the day of the visit
    assert '07:05' in rows[1][3]
    assert 'Reschedule' not in rows[3][3]
    assert 'reschedule?next=%2Freception%3Fdate%3D' in rows[0][3]
    assert 'Confirmed' in html and all('>—</td>' in r[3] for r in rows)
    # The clock stands two days before that day: nobody there is late yet.
    assert 'tag-late' not in html


def test_late_means_booked_not_checked_in_and_ten_minutes_past_the_start(people):
    ada, url = people['doctor'], people['anon'].base_url
    names = ('Late Lena', 'Just Late Jo', 'On Time Ola', 'Arrived Ari', 'Later Lou', 'Off Otto')
    who = {n: create_user(url, 'patient', name=n) for n in names}
    visit(ada, who['Late Lena'], TODAY, '07:30')
    visit(ada, who['Just Late Jo'], TODAY, '08:00')
    visit(ada, who['On Time Ola'], TODAY, '08:05')
    visit(ada, who['Arrived Ari'], TODAY, '07:40',
          checked_in_at=datetime.datetime(2033, 6, 6, 7, 35))
    visit(ada, who['Later Lou'], TODAY, '09:00')
    visit(ada, who['Off Otto'], TODAY, '07:45', status='cancelled')
    html = people['reception'].get('/reception').text
    late = {r[1] for r in day_rows(html) if 'tag-late' in r[3]}
    assert late == {'Late Lena', 'Just Late Jo'}


def test_the_day_list_is_for_reception_and_admins(people):
    assert people['admin'].get('/reception').status == 200
    for role in ('patient', 'doctor'):
        assert people[role].get('/reception').status == 403
    assert people['anon'].get('/reception').status in (302, 303)


def test_a_date_takes_ascii_digits_only(people):
    assert people['reception'].get('/reception?date=2033-06-0%D9%A1').status == 400
    assert people['reception'].get('/reception?date=tomorrow').status == 400


def test_reception_lands_on_the_front_desk_with_a_link_to_it(people, clinic):
    resp = people['reception'].get('/')
    assert resp.status in (302, 303) and location(resp) == '/reception'
    html = people['reception'].get('/reception').text
    assert '<a href="/reception" aria-current="page">Front desk</a>' in html
    assert 'href="/reception"' in people['admin'].get('/admin').text


def test_the_search_finds_patients_and_offers_booking_for_them(people):
    url = people['anon'].base_url
    found = create_user(url, 'patient', name='Quentin Quirrell-Search', phone='0700 111 222')
    html = people['reception'].get('/reception?q=quirrell-s').text
    assert 'Quentin Quirrell-Search' in html and '0700 111 222' in html
    assert f'/reception/book?patient_id={found.user["id"]}' in html
    assert 'Quentin Quirrell-Search' in people['reception'].get('/reception?q=0700+111+222').text
    assert 'No patient matches' in people['reception'].get('/reception?q=zzzz-nobody').text


def test_the_desk_books_a_free_time_for_a_patient(people):
    patient, ada = people['patient'], people['doctor']
    day = TODAY + 7 * DAY
    path = f'/reception/book?patient_id={patient.user["id"]}&doctor_id={ada.user["id"]}' \
           f'&date={day.isoformat()}'
    page = Page(people['reception'].get(path).text)
    assert '09:00' in page.radios('time')
    fields = {**page.hidden('/reception/book'), 'time': '09:00', 'reason': 'Back pain'}
    resp = submit(people['reception'], '/reception/book', fields)
    assert resp.status in (302, 303), resp
    assert location(resp) == f'/reception?date={day.isoformat()}'
    with database.connection_context():
        appt = Appointment.get(Appointment.patient == patient.user['id'], Appointment.date == day)
    assert (appt.time, appt.doctor_id, appt.status) == ('09:00', ada.user['id'], 'booked')


def test_outside_hours_needs_the_override(people):
    patient, ada = people['patient'], people['doctor']
    day = TODAY + 8 * DAY
    fields = {'csrf_token': people['reception'].csrf_token, 'patient_id': patient.user['id'],
              'doctor_id': ada.user['id'], 'date': day.isoformat(), 'time': '20:00'}
    refused = submit(people['reception'], '/reception/book', fields)
    assert refused.status == 409 and 'Not booked' in refused.text
    # From "Another time": the panel opens again with what was typed, its reason beside it.
    again = submit(people['reception'], '/reception/book',
                   {**fields, 'any_time': '1', 'reason': 'Evening only'})
    assert again.status == 409 and '<details class="move-any" id="any-time" open>' in again.text
    panel = again.text.split('id="any-time"', 1)[1]
    assert 'Not booked' in panel
    for typed in (f'value="{day.isoformat()}"', 'value="20:00"', 'value="Evening only"'):
        assert typed in panel, typed
    booked = submit(people['reception'], '/reception/book', {**fields, 'override': 'on'})
    assert booked.status in (302, 303), booked
    with database.connection_context():
        assert Appointment.get(Appointment.patient == patient.user['id'],
                               Appointment.date == day).time == '20:00'


def test_the_booking_page_names_a_day_outside_the_booking_window(people):
    path = (f'/reception/book?patient_id={people["patient"].user["id"]}'
            f'&doctor_id={people["doctor"].user["id"]}&date={(TODAY + 400 * DAY).isoformat()}')
    resp = people['reception'].get(path)
    assert resp.status == 400 and 'too far ahead' in resp.text


def test_the_booking_page_is_for_the_desk_and_for_patients_only(people):
    assert people['reception'].get(f'/reception/book?patient_id={people["doctor"].user["id"]}'
                                   ).status == 404
    assert people['patient'].get(f'/reception/book?patient_id={people["patient"].user["id"]}'
                                 ).status == 403


def test_the_desk_checks_in_and_cancels_from_the_day_list(people):
    day = TODAY
    arrived = visit(people['doctor'], people['patient'], day, '16:00')
    called_off = visit(people['doctor'], people['patient'], day, '16:20')
    assert 'aria-label="Check in Pia Patient, 16:00"' in people['reception'].get('/reception').text
    token = people['reception'].csrf_token
    resp = submit(people['reception'], f'/reception/appointments/{arrived}/check-in',
                  {'csrf_token': token})
    assert resp.status in (302, 303) and location(resp) == f'/reception?date={day.isoformat()}'
    again = submit(people['reception'], f'/reception/appointments/{arrived}/check-in',
                   {'csrf_token': token})
    assert again.status == 409 and 'already checked in' in again.text
    resp = submit(people['reception'], f'/reception/appointments/{called_off}/cancel',
                  {'csrf_token': token, 'reason': 'Patient phoned'})
    assert resp.status in (302, 303)
    with database.connection_context():
        assert Appointment.get_by_id(arrived).checked_in_at is not None
        row = Appointment.get_by_id(called_off)
    assert (row.status, row.cancel_reason) == ('cancelled', 'Patient phoned')


def test_reception_sees_no_clinical_text_on_the_desk(people):
    day = TODAY + 4 * DAY
    appt = visit(people['doctor'], people['patient'], day, '10:00', status='completed')
    with database.connection_context():
        Treatment.create(appointment=appt, diagnosis='Secret-Diagnosis-x1',
                         treatment='Secret-Treatment-x2', prescription='Secret-Rx-x3')
    for path in (f'/reception?date={day.isoformat()}', '/reception?q=Pia',
                 f'/reception/book?patient_id={people["patient"].user["id"]}'
                 f'&doctor_id={people["doctor"].user["id"]}'):
        html = people['reception'].get(path).text
        assert 'Pia Patient' in html
        assert 'Secret-' not in html, path


def test_the_doctor_sees_who_is_waiting_and_checks_a_patient_in(people):
    ada = people['doctor']
    waiting = visit(ada, people['patient'], TODAY, '10:30',
                    checked_in_at=datetime.datetime(2033, 6, 6, 8, 2))
    arriving = visit(ada, people['patient'], TODAY, '11:30')
    html = ada.get('/doctor').text
    assert 'Waiting since 08:02' in html
    assert f'/doctor/appointments/{arriving}/check-in' in html
    assert f'/doctor/appointments/{waiting}/check-in' not in html
    resp = submit(ada, f'/doctor/appointments/{arriving}/check-in', {'csrf_token': ada.csrf_token})
    assert resp.status in (302, 303)
    assert 'Waiting since 08:10' in ada.get('/doctor').text
    assert 'Waiting since 08:10' in ada.get(f'/doctor/appointments/{arriving}').text
    other = submit(people['other_doctor'], f'/doctor/appointments/{waiting}/check-in',
                   {'csrf_token': people['other_doctor'].csrf_token})
    assert other.status == 404
