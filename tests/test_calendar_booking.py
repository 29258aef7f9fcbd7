"""SPEC §8 booking rules over real HTTP: refusals that say why, staff
override, reschedule (same id, one email, audited), cancel with a reason,
the change cut-off and no-shows only after the start. The app's clock
stands at Monday 08:10; a second app at another time or with a cut-off
shares the database."""
import datetime

import pytest

from app.db import database
from app.models import AuditEvent
from tests.calendar_site import MONDAY, NOW, at, book, booked, day, moved_emails, new_doctor, \
    people, row, site, slot_times
from tests.conftest import create_user

EVERY_DAY = tuple((d, '09:00', '17:00') for d in range(7))


@pytest.fixture(scope='module')
def clinic(settings):
    with site(settings) as server:
        yield server


@pytest.fixture(scope='module')
def staff(clinic):
    return people(clinic.url)


@pytest.fixture
def users(clinic, staff):
    """The module's staff and doctor, with two patients of this test's own."""
    return {**staff, 'patient': create_user(clinic.url, 'patient'),
            'other_patient': create_user(clinic.url, 'patient')}


def test_a_new_appointment_has_the_calendar_fields(users):
    doc = new_doctor(EVERY_DAY, slot_minutes=20)
    appt = booked(users['patient'], doc, day(7), '09:20')
    assert appt['minutes'] == 20 and appt['checked_in_at'] is None
    assert appt['cancel_reason'] is None and appt['rescheduled_from'] is None
    listed = users['patient'].get(f'/api/appointments?date={day(7)}').json['items']
    assert {k: listed[0][k] for k in ('minutes', 'checked_in_at', 'cancel_reason',
                                      'rescheduled_from')} == {
        'minutes': 20, 'checked_in_at': None, 'cancel_reason': None, 'rescheduled_from': None}


def test_bookings_outside_the_calendar_are_409_saying_why(users):
    doc = new_doctor(((0, '09:00', '12:00'), (1, '09:00', '12:00')))
    other = new_doctor(EVERY_DAY)
    booked(users['other_patient'], doc, day(7), '10:00')
    booked(users['patient'], other, day(8), '11:00')
    users['admin'].post('/api/time-off', {'doctor_id': doc, 'start_date': day(14)})
    refusals = {
        'outside': (day(7), '13:00'),
        'outside ': (day(9), '10:00'),
        'away': (day(14), '10:00'),
        'too soon': (day(0), '09:00'),
        'too far': (day(91), '10:00'),
        'doctor already has': (day(7), '10:00'),
        'not a start time': (day(7), '10:10'),
        'you already have': (day(8), '11:00'),
    }
    for words, (date, time) in refusals.items():
        resp = book(users['patient'], doc, date, time)
        assert resp.status == 409 and words.strip() in resp.json['error'], (words, resp)
    past = book(users['patient'], doc, (MONDAY - datetime.timedelta(days=7)).isoformat(), '10:00')
    assert past.status == 400 and 'past' in past.json['error']
    assert book(users['patient'], doc, day(0), '09:30').status == 201
    assert book(users['patient'], doc, day(84), '11:30').status == 201


def test_a_longer_visit_clashes_with_every_start_it_overlaps(users):
    doc = new_doctor(((0, '09:00', '17:00'),), slot_minutes=15)
    booked(users['admin'], doc, day(7), '10:00', patient_id=users['other_patient'].user['id'],
           minutes=60)
    assert book(users['patient'], doc, day(7), '09:45').status == 201
    for time in ('10:00', '10:15', '10:30', '10:45'):
        resp = book(users['patient'], doc, day(7), time)
        assert resp.status == 409 and 'doctor already has' in resp.json['error'], time
    assert book(users['patient'], doc, day(7), '11:00').status == 201


def test_staff_book_outside_the_calendar_with_override_and_patients_cannot(users):
    doc = new_doctor(((0, '09:00', '12:00'),))
    patient_id = users['patient'].user['id']
    for staff, time in (('admin', '18:00'), ('reception', '19:10')):
        plain = book(users[staff], doc, day(7), time, patient_id=patient_id)
        assert plain.status == 409 and 'outside' in plain.json['error']
        forced = book(users[staff], doc, day(7), time, patient_id=patient_id, override=True)
        assert forced.status == 201 and forced.json['time'] == time, forced
    soon = book(users['reception'], doc, day(0), '08:30', patient_id=patient_id, override=True)
    assert soon.status == 201
    clash = book(users['admin'], doc, day(7), '18:15', patient_id=patient_id, override=True)
    assert clash.status == 409 and 'already' in clash.json['error']
    past = book(users['admin'], doc, day(0), '08:00', patient_id=patient_id, override=True)
    assert past.status == 400 and 'past' in past.json['error']
    refused = book(users['patient'], doc, day(7), '20:00', override=True)
    assert refused.status == 403 and 'override' in refused.json['error']
    odd = book(users['admin'], doc, day(7), '20:00', patient_id=patient_id, override='yes')
    assert odd.status == 400 and odd.json['error'].startswith('override')
    assert book(users['patient'], doc, day(7), '10:00', override=False).status == 201


def test_a_patient_books_the_doctors_visit_length_only(users):
    doc = new_doctor(((0, '09:00', '17:00'),))
    long = book(users['patient'], doc, day(7), '09:00', minutes=240)
    assert long.status == 403 and 'minutes' in long.json['error']
    same = book(users['patient'], doc, day(7), '09:00', minutes=30)
    assert same.status == 201 and same.json['minutes'] == 30
    staff = book(users['reception'], doc, day(7), '10:00', minutes=90,
                 patient_id=users['other_patient'].user['id'])
    assert staff.status == 201 and staff.json['minutes'] == 90


def reschedule_entries(appointment_id):
    with database.connection_context():
        return list(AuditEvent.select()
                    .where(AuditEvent.action == 'appointment.reschedule',
                           AuditEvent.target == f'appointment:{appointment_id}'))


def test_patient_reschedules_keeping_the_id_with_one_email_and_an_audit_entry(users):
    doc = new_doctor(EVERY_DAY, name='Dr Ana Ruiz')
    appt = booked(users['patient'], doc, day(7), '10:00')
    resp = users['patient'].post(f"/api/appointments/{appt['id']}/reschedule",
                                 {'date': day(8), 'time': '14:30'})
    assert resp.status == 200, resp
    moved = resp.json
    assert moved['id'] == appt['id'] and moved['patient'] == appt['patient']
    assert moved['doctor']['id'] == doc and moved['status'] == 'booked'
    assert (moved['date'], moved['time'], moved['minutes']) == (day(8), '14:30', 30)
    assert moved['rescheduled_from'] == {'date': day(7), 'time': '10:00'}
    emails = moved_emails(appt['id'])
    assert len(emails) == 1
    assert emails[0].to == users['patient'].user['email']
    assert emails[0].subject == 'Appointment moved to Tuesday 11 March 2031, 14:30'
    assert 'Monday 10 March 2031, 10:00 with Dr Ana Ruiz' in emails[0].text_body
    entries = reschedule_entries(appt['id'])
    assert len(entries) == 1
    assert entries[0].detail == f'{day(7)} 10:00 -> {day(8)} 14:30'
    assert entries[0].actor_id == users['patient'].user['id']
    assert (day(7), '10:00') in slot_times(users['other_patient'], doc, day(7))
    taken = book(users['other_patient'], doc, day(8), '14:30')
    assert taken.status == 409


def test_a_refused_reschedule_says_why_and_changes_nothing(users):
    doc = new_doctor(((0, '09:00', '12:00'),))
    elsewhere = new_doctor(EVERY_DAY)
    appt = booked(users['patient'], doc, day(7), '10:00')
    booked(users['other_patient'], doc, day(7), '11:00')
    booked(users['patient'], elsewhere, day(14), '09:00')
    users['admin'].post('/api/time-off', {'doctor_id': doc, 'start_date': day(21)})
    refusals = [((day(7), '11:00'), 409, 'doctor already has'),
                ((day(7), '10:45'), 409, 'not a start time'),
                ((day(8), '10:00'), 409, 'outside'),
                ((day(21), '10:00'), 409, 'away'),
                ((day(0), '09:00'), 409, 'too soon'),
                ((day(98), '10:00'), 409, 'too far'),
                ((day(14), '09:00'), 409, 'you already have'),
                ((day(-7), '10:00'), 400, 'past'),
                ((day(7), '25:00'), 400, 'time'),
                ((day(7), '10:00'), 400, 'already'),
                (('2031-02-30', '10:00'), 400, 'date')]
    for (date, time), status, words in refusals:
        resp = users['patient'].post(f"/api/appointments/{appt['id']}/reschedule",
                                     {'date': date, 'time': time})
        assert resp.status == status and words in resp.json['error'], (date, time, resp)
    now = row(appt['id'])
    assert (now.date.isoformat(), now.time, now.rescheduled_from_date) == (day(7), '10:00', None)
    assert moved_emails(appt['id']) == [] and reschedule_entries(appt['id']) == []
    refused = users['patient'].post(f"/api/appointments/{appt['id']}/reschedule",
                                    {'date': day(8), 'time': '10:00', 'override': True})
    assert refused.status == 403


def test_a_visit_may_move_onto_part_of_its_own_time(users):
    doc = new_doctor(((0, '09:00', '17:00'),), slot_minutes=15)
    appt = booked(users['reception'], doc, day(7), '10:00', minutes=60,
                  patient_id=users['patient'].user['id'])
    resp = users['reception'].post(f"/api/appointments/{appt['id']}/reschedule",
                                   {'date': day(7), 'time': '10:30'})
    assert resp.status == 200 and resp.json['minutes'] == 60, resp
    assert len(moved_emails(appt['id'])) == 1


def test_staff_move_a_visit_to_another_doctor(users):
    first = new_doctor(EVERY_DAY, name='Dr First')
    second = new_doctor(EVERY_DAY, slot_minutes=20, name='Dr Second')
    appt = booked(users['patient'], first, day(7), '10:00')
    gone = new_doctor(EVERY_DAY)
    users['admin'].put(f'/api/doctors/{gone}', {'active': False})
    for doctor_id in (999999, gone, users['patient'].user['id'], 'Dr Second'):
        bad = users['reception'].post(f"/api/appointments/{appt['id']}/reschedule",
                                      {'date': day(7), 'time': '10:00', 'doctor_id': doctor_id})
        assert bad.status == 400 and bad.json['error'].startswith('doctor_id'), (doctor_id, bad)
    resp = users['reception'].post(f"/api/appointments/{appt['id']}/reschedule",
                                   {'date': day(7), 'time': '10:20', 'doctor_id': second})
    assert resp.status == 200, resp
    assert resp.json['doctor']['id'] == second and resp.json['minutes'] == 20
    assert resp.json['patient']['id'] == users['patient'].user['id']
    [email] = moved_emails(appt['id'])
    assert 'Dr First' in email.text_body and 'Dr Second' in email.text_body
    forced = users['admin'].post(f"/api/appointments/{appt['id']}/reschedule",
                                 {'date': day(7), 'time': '21:00', 'override': True})
    assert forced.status == 200 and forced.json['time'] == '21:00'
    assert forced.json['rescheduled_from'] == {'date': day(7), 'time': '10:20'}
    assert len(moved_emails(appt['id'])) == 2


def test_cancel_keeps_the_visit_visible_with_its_reason(users):
    doc = new_doctor(EVERY_DAY)
    mine = booked(users['patient'], doc, day(7), '10:00')
    theirs = booked(users['other_patient'], doc, day(7), '11:00')
    plain = booked(users['other_patient'], doc, day(7), '12:00')
    for body, field in (({'reason': 'x' * 501}, 'reason'), ({'reason': ['a']}, 'reason'),
                        ({'reason': 'a\x00b'}, 'reason')):
        bad = users['patient'].post(f"/api/appointments/{mine['id']}/cancel", body)
        assert bad.status == 400 and bad.json['error'].startswith(field), bad
    assert row(mine['id']).status == 'booked'
    resp = users['patient'].post(f"/api/appointments/{mine['id']}/cancel",
                                 {'reason': 'Feeling better'})
    assert resp.status == 200, resp
    assert resp.json['status'] == 'cancelled' and resp.json['cancel_reason'] == 'Feeling better'
    shown = users['patient'].get(f"/api/appointments/{mine['id']}").json
    assert shown['status'] == 'cancelled' and shown['cancel_reason'] == 'Feeling better'
    listed = users['patient'].get(f'/api/appointments?date={day(7)}').json['items']
    assert [(a['id'], a['status']) for a in listed] == [(mine['id'], 'cancelled')]
    by_desk = users['reception'].post(f"/api/appointments/{theirs['id']}/cancel",
                                      {'reason': 'Doctor ill'})
    assert by_desk.status == 200 and by_desk.json['cancel_reason'] == 'Doctor ill'
    by_admin = users['admin'].post(f"/api/appointments/{plain['id']}/cancel")
    assert by_admin.status == 200 and by_admin.json['cancel_reason'] is None
    again = users['patient'].post(f"/api/appointments/{mine['id']}/cancel", {'reason': 'twice'})
    assert again.status == 409 and row(mine['id']).cancel_reason == 'Feeling better'
    moved = users['patient'].post(f"/api/appointments/{mine['id']}/reschedule",
                                  {'date': day(8), 'time': '10:00'})
    assert moved.status == 409 and 'cancelled' in moved.json['error']
    assert book(users['other_patient'], doc, day(7), '10:00').status == 201


def test_a_patient_cannot_change_a_visit_inside_the_cut_off_but_staff_can(settings, users):
    doc = new_doctor(EVERY_DAY)
    with site(settings, change_cutoff_hours=24) as strict:
        patient, admin, desk = (at(users[name], strict.url)
                                for name in ('patient', 'admin', 'reception'))
        soon = booked(patient, doc, day(0), '16:00')
        sooner = booked(patient, doc, day(0), '15:00')
        later = booked(patient, doc, day(1), '10:00')
        for action, body in (('cancel', {'reason': 'late'}),
                             ('reschedule', {'date': day(2), 'time': '11:00'})):
            resp = patient.post(f"/api/appointments/{soon['id']}/{action}", body)
            assert resp.status == 409 and '24 hours' in resp.json['error'], (action, resp)
        assert (row(soon['id']).status, row(soon['id']).time) == ('booked', '16:00')
        assert moved_emails(soon['id']) == []
        moved = patient.post(f"/api/appointments/{later['id']}/reschedule",
                             {'date': day(2), 'time': '10:00'})
        assert moved.status == 200, moved
        assert patient.post(f"/api/appointments/{later['id']}/cancel").status == 200
        assert admin.post(f"/api/appointments/{soon['id']}/cancel",
                          {'reason': 'Patient phoned'}).status == 200
        by_desk = desk.post(f"/api/appointments/{sooner['id']}/reschedule",
                            {'date': day(0), 'time': '16:30'})
        assert by_desk.status == 200, by_desk


def test_without_a_cut_off_a_patient_changes_a_visit_until_it_starts(settings, users):
    doc = new_doctor(EVERY_DAY)
    first = booked(users['patient'], doc, day(0), '09:30')
    second = booked(users['patient'], doc, day(0), '10:00')
    assert users['patient'].post(f"/api/appointments/{second['id']}/cancel").status == 200
    with site(settings, now=NOW.replace(hour=9, minute=31)) as later:
        patient, admin = at(users['patient'], later.url), at(users['admin'], later.url)
        for action, body in (('cancel', {}), ('reschedule', {'date': day(1), 'time': '10:00'})):
            resp = patient.post(f"/api/appointments/{first['id']}/{action}", body)
            assert resp.status == 409 and 'started' in resp.json['error'], (action, resp)
        assert admin.post(f"/api/appointments/{first['id']}/cancel").status == 200


def test_no_show_only_after_the_start_and_completing_from_the_start_of_the_day(settings,
                                                                               users):
    doctor = users['doctor']
    visit = booked(users['patient'], doctor.user['id'], day(0), '10:00')
    other = booked(users['other_patient'], doctor.user['id'], day(0), '11:00')
    tomorrow = booked(users['other_patient'], doctor.user['id'], day(1), '11:00')
    early = doctor.post(f"/api/appointments/{visit['id']}/no-show")
    assert early.status == 409 and '10:00' in early.json['error'], early
    assert row(visit['id']).status == 'booked'
    future = doctor.post(f"/api/appointments/{tomorrow['id']}/no-show")
    assert future.status == 409
    done = doctor.post(f"/api/appointments/{other['id']}/complete",
                       {'diagnosis': 'Checked early', 'treatment': 'None needed'})
    assert done.status == 200, done
    with site(settings, now=NOW.replace(hour=10, minute=1)) as later:
        resp = at(doctor, later.url).post(f"/api/appointments/{visit['id']}/no-show")
        assert resp.status == 200 and resp.json['status'] == 'no_show', resp
