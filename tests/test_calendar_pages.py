"""The calendar's staff pages over real HTTP: the weekly-hours editor, time
off and closures, and a doctor's edit page, driven through their forms."""
import datetime
import uuid

import pytest

from app.clock import Clock
from tests.test_pages import field_error, get_page, location, submit

DAY = datetime.timedelta(days=1)
MORNING_AND_AFTERNOON = (('09:00', '12:00'), ('13:00', '17:00'))


@pytest.fixture
def today(settings):
    return Clock(settings.tz).today()


@pytest.fixture
def new_doctor(base_url, make_user):
    def make(**fields):
        return make_user(base_url, 'doctor', name=f'Dr {uuid.uuid4().hex[:6]}', **fields)
    return make


def week_fields(ranges, slot_minutes='30'):
    """The hours form filled in with the same ranges on every weekday."""
    fields = {'slot_minutes': slot_minutes, 'action': 'save'}
    for weekday in range(7):
        for index, (start, end) in enumerate(ranges):
            fields[f'start-{weekday}-{index}'] = start
            fields[f'end-{weekday}-{index}'] = end
    return fields


def book(client, doctor, day, time='10:00'):
    resp = client.post('/api/appointments', {'doctor_id': doctor.user['id'],
                                             'date': day.isoformat(), 'time': time})
    assert resp.status == 201, resp
    return resp.json['id']


def test_admin_sets_a_break_through_the_form_and_no_slot_is_offered_in_it(
        admin, new_doctor, today):
    doctor = new_doctor()
    path = f'/admin/doctors/{doctor.user["id"]}/hours'
    page = get_page(admin, path)
    assert page.labels['Visit length in minutes'] == 'f-slot_minutes'
    assert page.labels['From (Monday, range 1)'] == 'f-start-0-0'
    hidden = page.hidden(path)

    added = submit(admin, path, {**hidden, **week_fields([('09:00', '12:00')]),
                                 'action': 'add-0'})
    assert added.status == 200 and 'id="f-start-0-1"' in added.text
    assert 'Not saved yet' in added.text

    resp = submit(admin, path, {**hidden, **week_fields(MORNING_AND_AFTERNOON)})
    assert resp.status == 303 and location(resp) == path
    assert 'hours are saved' in get_page(admin, path).html

    hours = admin.get(f'/api/doctors/{doctor.user["id"]}/hours').json
    assert {'weekday': 2, 'start': '13:00', 'end': '17:00'} in hours['hours']
    first = today + DAY
    slots = admin.get(f'/api/doctors/{doctor.user["id"]}/slots?from={first}'
                      f'&to={first + 6 * DAY}').json['items']
    times = {s['time'] for s in slots}
    assert '11:30' in times and '13:00' in times
    assert not {t for t in times if '12:00' <= t < '13:00'}


def test_remove_drops_a_range_from_the_form_until_it_is_saved(admin, new_doctor):
    doctor = new_doctor()
    path = f'/admin/doctors/{doctor.user["id"]}/hours'
    hidden = get_page(admin, path).hidden(path)
    resp = submit(admin, path, {**hidden, **week_fields(MORNING_AND_AFTERNOON),
                                'action': 'remove-0-1'})
    assert resp.status == 200
    assert 'id="f-start-0-1"' not in resp.text and 'id="f-start-1-1"' in resp.text
    hours = admin.get(f'/api/doctors/{doctor.user["id"]}/hours').json['hours']
    assert [h for h in hours if h['weekday'] == 0] == [
        {'weekday': 0, 'start': '09:00', 'end': '17:00'}]


def test_a_doctor_edits_their_own_hours_and_gets_404_for_another_doctors(new_doctor):
    doctor, other = new_doctor(), new_doctor()
    page = get_page(doctor, '/doctor/hours')
    resp = submit(doctor, '/doctor/hours', {**page.hidden('/doctor/hours'),
                                            **week_fields([('08:00', '14:00')], '20')})
    assert resp.status == 303 and location(resp) == '/doctor/hours'
    assert 'Your hours are saved' in get_page(doctor, '/doctor/hours').html
    hours = doctor.get(f'/api/doctors/{doctor.user["id"]}/hours').json
    assert hours['slot_minutes'] == 20 and len(hours['hours']) == 7

    own = f'/admin/doctors/{doctor.user["id"]}/hours'
    assert location(doctor.get(own)) == '/doctor/hours'
    theirs = f'/admin/doctors/{other.user["id"]}/hours'
    assert doctor.get(theirs).status == 404
    assert doctor.put(f'/api/doctors/{other.user["id"]}/hours',
                      {'hours': []}).status == 404
    resp = submit(doctor, theirs, {**page.hidden('/doctor/hours'),
                                   **week_fields([('08:00', '09:00')])})
    assert resp.status == 404
    assert len(other.get(f'/api/doctors/{other.user["id"]}/hours').json['hours']) == 7


def test_bad_ranges_are_refused_with_the_message_next_to_the_field(admin, new_doctor):
    doctor = new_doctor()
    path = f'/admin/doctors/{doctor.user["id"]}/hours'
    hidden = get_page(admin, path).hidden(path)
    fields = {**hidden, **week_fields([('09:00', '17:00')]),
              'end-0-0': '08:00', 'start-2-1': '12:00', 'end-2-1': '18:00',
              'start-4-0': '9am', 'slot_minutes': '3'}
    resp = submit(admin, path, fields)
    assert resp.status == 400
    assert 'must be after the start (09:00)' in field_error(resp.text, 'end-0-0')
    assert 'must not overlap 09:00–17:00' in field_error(resp.text, 'start-2-1')
    assert 'HH:MM' in field_error(resp.text, 'start-4-0')
    assert 'at least 5' in field_error(resp.text, 'slot_minutes')
    assert 'value="18:00"' in resp.text  # what was typed stays for correcting
    hours = admin.get(f'/api/doctors/{doctor.user["id"]}/hours').json
    assert hours['slot_minutes'] == 30 and len(hours['hours']) == 7


def test_a_clinic_holiday_over_a_booked_visit_lists_it_to_move_and_cancels_nothing(
        admin, patient, new_doctor, today):
    doctor = new_doctor()
    day = today + 5 * DAY
    appointment_id = book(patient, doctor, day)
    page = get_page(admin, '/admin/time-off')
    resp = submit(admin, '/admin/time-off', {**page.hidden('/admin/time-off'), 'doctor_id': '',
                                             'start_date': day.isoformat(), 'end_date': '',
                                             'start_time': '', 'end_time': '',
                                             'reason': 'Clinic closed'})
    assert resp.status == 303
    entry_path = location(resp)
    try:
        entry = get_page(admin, entry_path)
        assert 'booked appointment' in entry.html and 'nothing was cancelled' in entry.html
        assert patient.user['name'] in entry.html and doctor.user['name'] in entry.html
        assert f'/appointments/{appointment_id}/reschedule' in entry.links
        assert patient.get(f'/api/appointments/{appointment_id}').json['status'] == 'booked'
        assert 'Clinic closed' in get_page(admin, '/admin/time-off').html
        free = patient.get(f'/api/doctors/{doctor.user["id"]}/slots?from={day}&to={day}')
        assert free.json['items'] == []
    finally:
        resp = submit(admin, entry_path + '/delete', entry.hidden(entry_path + '/delete'))
    assert resp.status == 303 and location(resp) == '/admin/time-off'
    assert admin.get(entry_path).status == 404


def test_a_partial_day_of_leave_lists_only_the_visits_it_overlaps(
        admin, patient, new_doctor, today):
    doctor = new_doctor()
    day = today + 4 * DAY
    inside, outside = book(patient, doctor, day, '10:00'), book(patient, doctor, day, '15:00')
    page = get_page(admin, '/admin/time-off')
    resp = submit(admin, '/admin/time-off', {**page.hidden('/admin/time-off'),
                                             'doctor_id': str(doctor.user['id']),
                                             'start_date': day.isoformat(),
                                             'start_time': '09:30', 'end_time': '12:00'})
    assert resp.status == 303
    entry = get_page(admin, location(resp))
    assert f'/appointments/{inside}/reschedule' in entry.links
    assert f'/appointments/{outside}/reschedule' not in entry.links


def test_time_off_form_errors_show_by_their_fields(admin):
    page = get_page(admin, '/admin/time-off')
    resp = submit(admin, '/admin/time-off', {**page.hidden('/admin/time-off'),
                                             'start_date': '2030-02-30', 'reason': 'x'})
    assert resp.status == 400
    assert 'not a real calendar date' in field_error(resp.text, 'start_date')
    resp = submit(admin, '/admin/time-off', {**page.hidden('/admin/time-off'),
                                             'start_date': '2030-03-02', 'start_time': '10:00'})
    assert resp.status == 400 and field_error(resp.text, 'end_time')


def test_a_doctor_adds_and_deletes_own_leave_and_sees_but_cannot_touch_the_clinics(
        admin, new_doctor, today):
    doctor = new_doctor()
    day = today + 60 * DAY
    clinic = admin.post('/api/time-off', {'doctor_id': None, 'start_date': day.isoformat(),
                                          'start_time': '07:00', 'end_time': '07:30',
                                          'reason': 'Fire drill'}).json['id']
    try:
        page = get_page(doctor, '/doctor/time-off')
        assert 'Fire drill' in page.html
        assert 'doctor_id' not in {i['name'] for i in page.form('/doctor/time-off')['inputs']}
        assert f'/doctor/time-off/{clinic}' not in page.links
        resp = submit(doctor, '/doctor/time-off', {**page.hidden('/doctor/time-off'),
                                                   'start_date': day.isoformat(),
                                                   'end_date': (day + 4 * DAY).isoformat(),
                                                   'reason': 'Family trip'})
        assert resp.status == 303
        own = location(resp)
        entry = get_page(doctor, own)
        assert 'No booked visit falls in this time off' in entry.html
        listed = doctor.get('/api/time-off').json['items']
        assert {e['reason'] for e in listed} >= {'Fire drill', 'Family trip'}
        assert doctor.get(f'/doctor/time-off/{clinic}').status == 404
        assert submit(doctor, f'/doctor/time-off/{clinic}/delete',
                      page.hidden('/doctor/time-off')).status == 404
        assert doctor.get('/admin/time-off').status == 403
        resp = submit(doctor, own + '/delete', entry.hidden(own + '/delete'))
        assert resp.status == 303 and location(resp) == '/doctor/time-off'
        assert 'Family trip' not in get_page(doctor, '/doctor/time-off').html
    finally:
        admin.delete(f'/api/time-off/{clinic}')


def test_deactivating_a_doctor_lists_their_future_visits_and_hides_them_from_booking(
        base_url, make_user, admin, patient, new_doctor, today):
    doctor = new_doctor()
    appointment_id = book(patient, doctor, today + 3 * DAY)
    path = f'/admin/doctors/{doctor.user["id"]}'
    assert f'{path}/hours' in get_page(admin, '/admin').links
    page = get_page(admin, path)
    assert page.labels['Takes bookings (active)'] == 'f-active'
    resp = submit(admin, path, {**page.hidden(path), 'name': doctor.user['name'],
                                'specialization': 'Cardiology'})
    assert resp.status == 303 and location(resp) == path
    page = get_page(admin, path)
    assert '1 future booking to move' in page.html and 'Inactive' in page.html
    assert f'/appointments/{appointment_id}/reschedule' in page.links
    assert patient.get(f'/api/appointments/{appointment_id}').json['status'] == 'booked'

    newcomer = make_user(base_url, 'patient')
    listed = newcomer.get('/api/doctors?limit=1000').json['items']
    assert doctor.user['id'] not in {d['id'] for d in listed}
    assert doctor.user['name'] not in get_page(newcomer, '/patient').html
    dashboard = get_page(admin, '/admin').html
    mark = dashboard.index(f'<strong>{doctor.user["name"]}</strong>')
    assert 'Inactive' in dashboard[mark:mark + 200]

    resp = submit(admin, path, {**page.hidden(path), 'name': doctor.user['name'],
                                'specialization': 'Cardiology', 'active': 'on'})
    assert resp.status == 303
    assert doctor.user['id'] in {d['id'] for d in
                                 newcomer.get('/api/doctors?limit=1000').json['items']}


def test_doctor_edit_form_keeps_the_input_and_names_the_field_on_error(admin, new_doctor):
    doctor = new_doctor()
    path = f'/admin/doctors/{doctor.user["id"]}'
    page = get_page(admin, path)
    resp = submit(admin, path, {**page.hidden(path), 'name': '  ', 'specialization': 'Skin',
                                'active': 'on'})
    assert resp.status == 400
    assert 'Name is required' in field_error(resp.text, 'name')
    assert 'value="Skin"' in resp.text


def test_home_pages_link_to_the_calendar_pages(admin, doctor):
    assert {'/doctor/hours', '/doctor/time-off'} <= set(get_page(doctor, '/doctor').links)
    assert '/admin/time-off' in get_page(admin, '/admin').links


def test_patients_get_403_on_every_calendar_page(patient, new_doctor):
    doctor_id = new_doctor().user['id']
    pages = ['/doctor/hours', f'/admin/doctors/{doctor_id}/hours', '/admin/time-off',
             '/admin/time-off/1', '/doctor/time-off', '/doctor/time-off/1',
             f'/admin/doctors/{doctor_id}']
    for path in pages:
        assert patient.get(path).status == 403, path
    posts = pages + ['/admin/time-off/1/delete', '/doctor/time-off/1/delete']
    token = {'csrf_token': patient.csrf_token}
    for path in posts:
        if path.endswith('/1'):
            continue
        assert submit(patient, path, token).status == 403, path


def test_logged_out_visitors_are_sent_to_log_in(anon):
    resp = anon.get('/admin/time-off')
    assert resp.status in (302, 303) and location(resp).startswith('/login?next=')
