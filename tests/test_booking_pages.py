"""The booking week view, the reschedule page, cancelling with a reason and
the doctor's no-show button, over real HTTP as a browser without
JavaScript uses them: links, form posts with their csrf_token, a redirect
with a flash message, or the page again with the reason."""
import datetime
import html
import re
import uuid
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from app.clock import Clock
from app.db import database
from app.models import OutboxMessage, User
from app.services import accounts
from tests.calendar_site import at, site
from tests.client import Client
from tests.conftest import PASSWORD, unique_email
from tests.test_pages import Page, get_page, location, open_visit, submit

DAY = datetime.timedelta(days=1)
LUNCH_WEEK = tuple(item for weekday in range(7)
                   for item in ((weekday, '09:00', '12:00'), (weekday, '13:00', '15:00')))
MORNING = ['09:00', '09:30', '10:00', '10:30', '11:00', '11:30']
AFTERNOON = ['13:00', '13:30', '14:00', '14:30']


@pytest.fixture
def today(settings):
    return Clock(settings.tz).today()


def new_doctor(make_user, base_url, **fields):
    return make_user(base_url, 'doctor', name=f'Dr {uuid.uuid4().hex[:6]}', **fields)


@pytest.fixture
def reception(base_url, settings):
    email = unique_email('reception')
    with database.connection_context():
        accounts.create_or_reset_admin(email, PASSWORD)
        User.update(role='reception').where(User.email == email).execute()
    return Client(base_url).login(email, PASSWORD)


def week_slots(page_html):
    """{date: [(time, accessible name)]} of the week view's slot links."""
    found = {}
    for href, inner in re.findall(r'<a class="week-slot[^"]*" href="([^"]*)"[^>]*>(.*?)</a>',
                                  page_html, re.S):
        query = parse_qs(urlparse(html.unescape(href)).query)
        name = html.unescape(re.search(r'<span class="visually-hidden">(.*?)</span>',
                                       inner).group(1))
        found.setdefault(query['date'][0], []).append((query['time'][0], name))
    return found


def day_heads(page_html):
    """{date: 'N free' text} of the week's day headings."""
    heads = {}
    for href, inner in re.findall(r'<a class="week-day-head" href="([^"]*)"[^>]*>(.*?)</a>',
                                  page_html, re.S):
        day = parse_qs(urlparse(html.unescape(href)).query)['date'][0]
        heads[day] = re.search(r'<span class="day-free">(.*?)</span>', inner).group(1)
    return heads


def spoken(day, time, doctor):
    return f'{day:%A} {day.day} {day:%B %Y}, {time}, {doctor.user["name"]}'


def book(client, doctor, day, time, **extra):
    resp = client.post('/api/appointments', {'doctor_id': doctor.user['id'],
                                             'date': day.isoformat(), 'time': time, **extra})
    assert resp.status == 201, resp
    return resp.json['id']


def test_the_week_shows_only_real_free_slots_not_the_lunch_break_nor_a_day_off(
        base_url, make_user, patient, today):
    start = today + DAY
    day_off = (today + 3 * DAY).weekday()
    doctor = new_doctor(make_user, base_url,
                        week=tuple(r for r in LUNCH_WEEK if r[0] != day_off))
    other = new_doctor(make_user, base_url)
    book(patient, other, start, '10:00')

    page = get_page(patient, f'/patient?doctor_id={doctor.user["id"]}&week={start}')
    slots, heads = week_slots(page.html), day_heads(page.html)
    days = [start + DAY * i for i in range(7)]
    assert list(heads) == [d.isoformat() for d in days]
    for day in days:
        expected = [] if day.weekday() == day_off else MORNING + AFTERNOON
        if day == start:
            expected = [t for t in expected if t != '10:00']  # the patient is busy then
        assert [t for t, _ in slots.get(day.isoformat(), [])] == expected, day
        assert heads[day.isoformat()] == (f'{len(expected)} free' if expected else 'no free')
    assert (MORNING[0], spoken(start, MORNING[0], doctor)) in slots[start.isoformat()]
    assert 'Previous week' in page.html and 'Next week' in page.html


def test_the_first_week_starts_today_and_the_last_ends_at_the_horizon(
        base_url, make_user, patient, settings, today):
    doctor = new_doctor(make_user, base_url)
    path = f'/patient?doctor_id={doctor.user["id"]}'
    page = get_page(patient, f'{path}&week={today - 30 * DAY}')
    assert list(day_heads(page.html))[0] == today.isoformat()
    assert 'Previous week' not in page.html and 'Next week' in page.html

    page = get_page(patient, f'{path}&week={today + 400 * DAY}')
    last = today + DAY * settings.booking_horizon_days
    assert last.isoformat() in day_heads(page.html)
    assert 'Next week' not in page.html and 'Previous week' in page.html
    assert max(week_slots(page.html)) == last.isoformat()


def test_a_week_with_nothing_free_offers_the_next_week_that_has_a_slot(
        base_url, make_user, admin, patient, today):
    doctor = new_doctor(make_user, base_url)
    resp = admin.post('/api/time-off', {'doctor_id': doctor.user['id'],
                                        'start_date': today.isoformat(),
                                        'end_date': (today + 15 * DAY).isoformat(),
                                        'reason': 'Conference'})
    assert resp.status == 201, resp
    page = get_page(patient, f'/patient?doctor_id={doctor.user["id"]}')
    assert week_slots(page.html) == {}
    assert f'Nothing is free with {doctor.user["name"]}' in page.html
    first_free = today + 16 * DAY
    assert (f'The next free time is {first_free:%A} {first_free.day} {first_free:%B %Y}, '
            '09:00.') in page.html
    offer = [link for link in page.links if f'date={first_free}' in link and 'time=' not in link
             and f'week={today + 14 * DAY}' in link]
    assert offer, page.links
    page = get_page(patient, offer[0])
    assert week_slots(page.html)[first_free.isoformat()][0][0] == '09:00'
    assert f'value="{first_free}"' in page.html  # that day is chosen for the booking form


def test_a_doctor_with_no_hours_says_nothing_is_free_up_to_the_horizon(
        base_url, make_user, patient):
    doctor = new_doctor(make_user, base_url, week=())
    page = get_page(patient, f'/patient?doctor_id={doctor.user["id"]}')
    assert week_slots(page.html) == {}
    assert 'Nothing is free up to' in page.html and 'The next free time' not in page.html


def test_a_slot_link_chooses_that_time_in_the_booking_form(base_url, make_user, patient, today):
    doctor = new_doctor(make_user, base_url)
    day = today + 2 * DAY
    page = get_page(patient, f'/patient?doctor_id={doctor.user["id"]}')
    href = next(link for link in page.links if f'date={day}' in link and 'time=10%3A30' in link)
    page = get_page(patient, href)
    assert re.search(r'value="10:30" checked', page.html)
    fields = {**page.hidden('/patient/appointments'), 'time': '10:30', 'reason': ''}
    assert fields['date'] == day.isoformat()
    resp = submit(patient, '/patient/appointments', fields)
    assert resp.status == 303 and location(resp) == '/patient'
    assert [(a['date'], a['time']) for a in patient.get('/api/appointments').json['items']] \
        == [(day.isoformat(), '10:30')]


def reschedule_path(appointment_id):
    return f'/appointments/{appointment_id}/reschedule'


def test_patient_reschedules_their_own_appointment_and_is_emailed(
        base_url, make_user, patient, today):
    doctor = new_doctor(make_user, base_url)
    day, new_day = today + 2 * DAY, today + 3 * DAY
    appointment_id = book(patient, doctor, day, '09:00')
    upcoming = get_page(patient, '/patient')
    assert reschedule_path(appointment_id) in upcoming.links

    path = reschedule_path(appointment_id)
    page = get_page(patient, f'{path}?week={today + DAY}&date={new_day}&time=11:00')
    start = page.html.index('id="from"')
    assert '09:00' in page.html[start:start + 600]
    assert '11:00' in [t for t, _ in week_slots(page.html)[new_day.isoformat()]]
    assert 'f-doctor_id' not in page.html and 'override' not in page.html
    fields = {**page.hidden(path), 'time': '11:00'}
    assert fields['date'] == new_day.isoformat() and 'doctor_id' not in fields

    resp = submit(patient, path, fields)
    assert resp.status == 303 and location(resp) == '/patient'
    flash = unquote(resp.headers['Set-Cookie'])
    assert f'Moved: {day:%a} {day.day} {day:%b %Y}, 09:00 → ' \
           f'{new_day:%a} {new_day.day} {new_day:%b %Y}, 11:00' in flash
    moved = patient.get(f'/api/appointments/{appointment_id}').json
    assert (moved['date'], moved['time']) == (new_day.isoformat(), '11:00')
    assert moved['rescheduled_from'] == {'date': day.isoformat(), 'time': '09:00'}
    with database.connection_context():
        mails = list(OutboxMessage.select()
                     .where(OutboxMessage.to == patient.user['email'],
                            OutboxMessage.subject.startswith('Appointment moved')))
    assert len(mails) == 1 and f'{new_day.day} {new_day:%B %Y}, 11:00' in mails[0].subject
    page = get_page(patient, '/patient')
    assert 'Moved from' in page.html.split('id="upcoming"')[1].split('id="book"')[0]


def test_a_refused_move_shows_the_reason_next_to_the_week(base_url, make_user, patient, today):
    doctor = new_doctor(make_user, base_url)
    other = make_user(base_url, 'patient')
    day = today + 2 * DAY
    appointment_id = book(patient, doctor, day, '09:00')
    book(other, doctor, day, '10:00')
    path = reschedule_path(appointment_id)
    page = get_page(patient, f'{path}?date={day}')
    assert '10:00' not in page.radios('time')
    resp = submit(patient, path, {**page.hidden(path), 'time': '10:00'})
    assert resp.status == 409
    refusal = re.search(r'<div class="alert alert-error" role="alert" id="refusal">(.*?)</div>',
                        resp.text, re.S).group(1)
    assert 'Not moved' in refusal and 'already has an appointment' in refusal
    assert 'id="week"' in resp.text
    assert patient.get(f'/api/appointments/{appointment_id}').json['time'] == '09:00'


def test_reschedule_page_is_for_the_own_patient_and_front_desk_only(
        base_url, make_user, patient, admin, reception, today):
    doctor = new_doctor(make_user, base_url)
    appointment_id = book(patient, doctor, today + 2 * DAY, '09:00')
    path = reschedule_path(appointment_id)
    other = make_user(base_url, 'patient')
    get_page(other, path, status=404)
    token = get_page(other, '/patient').hidden('/logout')['csrf_token']
    resp = submit(other, path, {'csrf_token': token, 'date': (today + 3 * DAY).isoformat(),
                                'time': '09:00'})
    assert resp.status == 404
    assert doctor.get(path).status == 403
    for staff in (admin, reception):
        page = get_page(staff, path)
        assert page.labels['Doctor'] == 'f-doctor_id'
        assert 'Outside hours (override)' in page.labels
    assert patient.get(f'/api/appointments/{appointment_id}').json['time'] == '09:00'


def test_front_desk_moves_to_another_doctor_and_outside_hours_with_the_override(
        base_url, make_user, patient, reception, today):
    doctor, second = new_doctor(make_user, base_url), new_doctor(make_user, base_url)
    day = today + 2 * DAY
    appointment_id = book(patient, doctor, day, '09:00')
    path = reschedule_path(appointment_id)

    page = get_page(reception, f'{path}?doctor_id={second.user["id"]}&date={day}')
    assert f'with {second.user["name"]}' in page.html
    fields = {**page.hidden(path), 'time': '14:00'}
    assert fields['doctor_id'] == str(second.user['id'])
    resp = submit(reception, path, fields)
    # Without a `next`, the desk goes back to its day list.
    assert resp.status == 303 and location(resp) == '/reception'
    moved = patient.get(f'/api/appointments/{appointment_id}').json
    assert (moved['doctor']['id'], moved['time']) == (second.user['id'], '14:00')

    page = get_page(reception, path)
    token = page.hidden(path)['csrf_token']
    late = {'csrf_token': token, 'date': day.isoformat(), 'time': '19:30'}
    resp = submit(reception, path, late)
    assert resp.status == 409 and 'Not moved: Outside the doctor' in resp.text
    resp = submit(reception, path, {**late, 'override': 'on'})
    assert resp.status == 303
    assert patient.get(f'/api/appointments/{appointment_id}').json['time'] == '19:30'


def test_a_cancelled_appointment_stays_in_sight_with_its_reason(
        base_url, make_user, patient, today):
    doctor = new_doctor(make_user, base_url)
    appointment_id = book(patient, doctor, today + 4 * DAY, '09:30')
    page = get_page(patient, '/patient')
    action = f'/patient/appointments/{appointment_id}/cancel'
    assert page.labels['Why are you cancelling? (optional)'] == f'cancel-reason-{appointment_id}'
    resp = submit(patient, action, {**page.hidden(action), 'reason': 'Feeling better'})
    assert resp.status == 303
    upcoming = get_page(patient, '/patient').html.split('id="upcoming"')[1].split('id="book"')[0]
    assert 'You have no upcoming appointments' in upcoming
    cancelled = upcoming.split('Cancelled</h3>')[1]
    assert doctor.user['name'] in cancelled and '09:30' in cancelled
    assert 'Reason for cancelling: Feeling better' in cancelled
    assert patient.get(f'/api/appointments/{appointment_id}').json['cancel_reason'] \
        == 'Feeling better'
    assert reschedule_path(appointment_id) not in Page(upcoming).links
    page = get_page(patient, reschedule_path(appointment_id))
    assert 'only a booked appointment can be moved' in page.html


def test_no_show_is_offered_only_once_the_visit_has_started(
        base_url, make_user, patient, settings, today):
    doctor = new_doctor(make_user, base_url)
    visit = open_visit(doctor, patient, today, '10:00')
    path = f'/doctor/appointments/{visit}'
    # The app at a fixed time of the visit's day, whatever the hour the test runs at.
    with site(settings, now=datetime.datetime.combine(today, datetime.time(9, 59))) as before:
        page = get_page(at(doctor, before.url), path)
    assert 'Complete visit' in page.buttons and 'Mark no-show' not in page.buttons
    assert 'once it has started' in page.html
    with site(settings, now=datetime.datetime.combine(today, datetime.time(10, 1))) as after:
        page = get_page(at(doctor, after.url), path)
    assert 'Mark no-show' in page.buttons


def test_front_desk_moves_a_visit_of_a_doctor_who_left_to_another_doctor(
        base_url, make_user, patient, admin, reception, today):
    leaving, staying = new_doctor(make_user, base_url), new_doctor(make_user, base_url)
    day = today + 5 * DAY
    appointment_id = book(patient, leaving, day, '11:00')
    resp = admin.put(f'/api/doctors/{leaving.user["id"]}', {'active': False})
    assert resp.status == 200 and [a['id'] for a in resp.json['affected']] == [appointment_id]
    path = reschedule_path(appointment_id)
    page = get_page(reception, path)
    assert f'{leaving.user["name"]} (General practice), left the clinic' in page.html
    back = f'/admin/doctors/{leaving.user["id"]}'
    page = get_page(reception, f'{path}?doctor_id={staying.user["id"]}&date={day}&next={back}')
    assert f'next={back.replace("/", "%2F")}' in ' '.join(page.links)  # the week keeps it
    resp = submit(reception, path, {**page.hidden(path), 'time': '11:00'})
    assert resp.status == 303 and location(resp) == back
    moved = patient.get(f'/api/appointments/{appointment_id}').json
    assert (moved['doctor']['id'], moved['date'], moved['time']) == (
        staying.user['id'], day.isoformat(), '11:00')
