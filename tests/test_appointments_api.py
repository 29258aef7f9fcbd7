"""Booking rules, completing visits and listing, over real HTTP."""
import datetime
import threading

from app.db import database
from app.models import Appointment


def future_day(days=3):
    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


def book(client, doctor_id, day=None, time='10:00', **extra):
    return client.post('/api/appointments', {'doctor_id': doctor_id, 'date': day or future_day(),
                                             'time': time, **extra})


def backdate(appointment_id, days):
    """Move an appointment into the past, as time passing would."""
    with database.connection_context():
        (Appointment.update(date=datetime.date.today() - datetime.timedelta(days=days))
         .where(Appointment.id == appointment_id).execute())


def test_patient_books_sees_and_cancels_an_appointment(patient, doctor):
    resp = book(patient, doctor.user['id'], reason='Chest pain, mild')
    assert resp.status == 201, resp
    appt = resp.json
    assert appt['status'] == 'booked' and appt['time'] == '10:00'
    assert appt['doctor'] == {'id': doctor.user['id'], 'name': doctor.user['name'],
                              'specialization': 'General practice'}
    assert appt['patient']['id'] == patient.user['id'] and appt['treatment'] is None
    listed = patient.get('/api/appointments').json
    assert [a['id'] for a in listed['items']] == [appt['id']]
    cancelled = patient.post(f"/api/appointments/{appt['id']}/cancel")
    assert cancelled.status == 200 and cancelled.json['status'] == 'cancelled'
    again = patient.post(f"/api/appointments/{appt['id']}/cancel")
    assert again.status == 409


def test_doctor_slot_cannot_be_double_booked(make_user, base_url, doctor):
    first, second = make_user(base_url), make_user(base_url)
    assert book(first, doctor.user['id'], time='11:00').status == 201
    clash = book(second, doctor.user['id'], time='11:00')
    assert clash.status == 409 and 'doctor' in clash.json['error']


def test_patient_cannot_hold_two_appointments_at_the_same_time(patient, make_user, base_url):
    one, two = make_user(base_url, 'doctor'), make_user(base_url, 'doctor')
    assert book(patient, one.user['id'], time='12:00').status == 201
    clash = book(patient, two.user['id'], time='12:00')
    assert clash.status == 409 and 'you already have' in clash.json['error']


def test_cancelled_slot_can_be_booked_again(patient, doctor):
    appt = book(patient, doctor.user['id'], time='13:00').json
    patient.post(f"/api/appointments/{appt['id']}/cancel")
    assert book(patient, doctor.user['id'], time='13:00').status == 201


def test_concurrent_bookings_of_one_slot_give_one_winner(make_user, base_url, doctor):
    patients = [make_user(base_url) for _ in range(6)]
    statuses = []
    day = future_day(9)

    def attempt(client):
        statuses.append(book(client, doctor.user['id'], day=day, time='14:30').status)
    threads = [threading.Thread(target=attempt, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]


def test_booking_in_the_past_or_with_bad_fields_is_400(patient, doctor):
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    past = book(patient, doctor.user['id'], day=yesterday)
    assert past.status == 400 and 'past' in past.json['error']
    cases = {
        'date': {'date': '2026-02-30'},
        'time': {'time': '25:00'},
        'doctor_id': {'doctor_id': 'abc'},
    }
    for field, override in cases.items():
        body = {'doctor_id': doctor.user['id'], 'date': future_day(), 'time': '09:00', **override}
        resp = patient.post('/api/appointments', body)
        assert resp.status == 400 and resp.json['error'].startswith(field), (field, resp)
    unknown = book(patient, 10**9)
    assert unknown.status == 400 and 'doctor_id' in unknown.json['error']


def test_admin_books_for_a_patient(admin, patient, doctor):
    resp = book(admin, doctor.user['id'], time='15:00', patient_id=patient.user['id'])
    assert resp.status == 201 and resp.json['patient']['id'] == patient.user['id']
    missing = book(admin, doctor.user['id'], time='15:30')
    assert missing.status == 400 and 'patient_id' in missing.json['error']


def test_doctor_completes_a_past_visit_and_patient_sees_the_treatment(patient, doctor):
    appt = book(patient, doctor.user['id'], time='09:30').json
    backdate(appt['id'], 1)
    body = {'diagnosis': 'Seasonal allergy', 'treatment': 'Antihistamines',
            'prescription': 'Cetirizine 10 mg daily'}
    done = doctor.post(f"/api/appointments/{appt['id']}/complete", body)
    assert done.status == 200, done
    assert done.json['status'] == 'completed' and done.json['treatment'] == body
    seen = patient.get('/api/appointments?status=completed').json['items']
    assert [a['treatment'] for a in seen] == [body]
    twice = doctor.post(f"/api/appointments/{appt['id']}/complete", body)
    assert twice.status == 409


def test_future_visit_cannot_be_completed_or_marked_no_show(patient, doctor):
    appt = book(patient, doctor.user['id'], time='16:00').json
    for action, body in (('complete', {'diagnosis': 'x', 'treatment': 'y'}), ('no-show', {})):
        resp = doctor.post(f"/api/appointments/{appt['id']}/{action}", body)
        assert resp.status == 409 and 'future' in resp.json['error']


def test_completion_requires_diagnosis_and_treatment(patient, doctor):
    appt = book(patient, doctor.user['id'], time='16:30').json
    backdate(appt['id'], 2)
    resp = doctor.post(f"/api/appointments/{appt['id']}/complete", {'diagnosis': 'Flu'})
    assert resp.status == 400 and resp.json['error'].startswith('treatment')


def test_doctor_marks_a_no_show(patient, doctor):
    appt = book(patient, doctor.user['id'], time='09:00').json
    backdate(appt['id'], 3)
    resp = doctor.post(f"/api/appointments/{appt['id']}/no-show")
    assert resp.status == 200 and resp.json['status'] == 'no_show'


def test_list_filters_and_paging(admin, patient, doctor):
    ids = []
    for days, time in ((20, '09:00'), (21, '09:00'), (21, '10:00'), (22, '09:00')):
        ids.append(book(patient, doctor.user['id'], day=future_day(days), time=time).json['id'])
    patient.post(f'/api/appointments/{ids[3]}/cancel')
    base = f"/api/appointments?doctor_id={doctor.user['id']}"
    assert [a['id'] for a in admin.get(base).json['items']] == ids
    assert [a['id'] for a in admin.get(f'{base}&date={future_day(21)}').json['items']] == ids[1:3]
    ranged = admin.get(f'{base}&from={future_day(21)}&to={future_day(22)}').json
    assert [a['id'] for a in ranged['items']] == ids[1:]
    assert [a['id'] for a in admin.get(f'{base}&status=cancelled').json['items']] == ids[3:]
    page = admin.get(f'{base}&limit=2&offset=2').json
    assert page['total'] == 4 and page['limit'] == 2 and page['offset'] == 2
    assert [a['id'] for a in page['items']] == ids[2:]
    by_patient = admin.get(f"/api/appointments?patient_id={patient.user['id']}").json
    assert by_patient['total'] == 4
    assert admin.get(f'{base}&limit=5000').json['limit'] == 1000
    for bad in ('status=lost', 'from=yesterday', 'limit=-1', 'doctor_id=x'):
        resp = admin.get(f'{base}&{bad}')
        assert resp.status == 400 and bad.split('=')[0] in resp.json['error'], bad


def test_the_booking_answer_is_the_record_a_later_read_shows(patient, doctor, base_url):
    """The 201 is built from the booking itself, not read back: it must be
    the same record, for a patient booking and for the front desk."""
    from tests.calendar_site import reception
    mine = book(patient, doctor.user['id'], future_day(4), '11:00', reason='Follow-up')
    assert mine.status == 201, mine
    assert mine.json == patient.get(f"/api/appointments/{mine.json['id']}").json
    assert mine.json['patient'] == {'id': patient.user['id'], 'name': patient.user['name']}

    desk = reception(base_url)
    theirs = book(desk, doctor.user['id'], future_day(4), '11:30', patient_id=patient.user['id'])
    assert theirs.status == 201, theirs
    assert theirs.json == desk.get(f"/api/appointments/{theirs.json['id']}").json
    assert theirs.json['patient'] == {'id': patient.user['id'], 'name': patient.user['name']}
