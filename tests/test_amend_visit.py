"""Amending a recorded visit (SPEC §9): its doctor replaces the record and
every earlier version is kept with who recorded it and when; the history
is read by its doctor, an admin and the patient, never by reception; each
amendment is audited; the doctor's visit page offers it."""
import datetime
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from app.clock import Clock
from app.db import database
from app.models import Appointment, AuditEvent, Treatment, TreatmentVersion
from tests.calendar_site import reception
from tests.test_pages import field_error, get_page, location, submit

DAY = datetime.timedelta(days=1)
FIRST = {'diagnosis': 'Sprained ankle', 'treatment': 'Rest', 'prescription': 'Ibuprofen 200 mg'}
SECOND = {'diagnosis': 'Sprained ankle, grade 2', 'treatment': 'Rest and a brace',
          'prescription': 'Ibuprofen 400 mg'}
THIRD = {'diagnosis': 'Torn ligament', 'treatment': 'Refer to orthopaedics'}


@pytest.fixture
def today(settings):
    return Clock(settings.tz).today()


@pytest.fixture
def new_doctor(base_url, make_user):
    def make():
        return make_user(base_url, 'doctor', name=f'Dr {uuid.uuid4().hex[:6]}')
    return make


def booked(doctor, patient, day, time='10:00'):
    with database.connection_context():
        return Appointment.create(doctor=doctor.user['id'], patient=patient.user['id'],
                                  date=day, time=time, status='booked').id


def completed(doctor, patient, day, record=FIRST):
    visit = booked(doctor, patient, day)
    resp = doctor.post(f'/api/appointments/{visit}/complete', record)
    assert resp.status == 200, resp
    return visit


def history(client, visit):
    resp = client.get(f'/api/appointments/{visit}/treatment/history')
    assert resp.status == 200, resp
    return resp.json['items']


def text_of(version):
    return {key: version[key] for key in ('diagnosis', 'treatment', 'prescription')
            if version[key] is not None}


def test_two_amendments_keep_three_versions_newest_first_with_who_and_when(
        patient, new_doctor, admin, today):
    doctor = new_doctor()
    visit = completed(doctor, patient, today)
    for record in (SECOND, THIRD):
        resp = doctor.put(f'/api/appointments/{visit}/treatment', record)
        assert resp.status == 200, resp
    assert resp.json['treatment'] == {**THIRD, 'prescription': None}

    versions = history(doctor, visit)
    assert [v['version'] for v in versions] == [3, 2, 1]
    assert [text_of(v) for v in versions] == [THIRD, SECOND, FIRST]
    me = {'id': doctor.user['id'], 'name': doctor.user['name']}
    assert all(v['recorded_by'] == me for v in versions)
    times = [datetime.datetime.fromisoformat(v['recorded_at']) for v in versions]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times, reverse=True)
    assert history(admin, visit) == versions
    assert history(patient, visit) == versions
    with database.connection_context():
        assert Treatment.get(Treatment.appointment == visit).diagnosis == THIRD['diagnosis']
        assert TreatmentVersion.select().where(TreatmentVersion.appointment == visit).count() == 3


def test_a_visit_never_amended_has_its_record_as_the_only_version(patient, new_doctor, today):
    doctor = new_doctor()
    visit = completed(doctor, patient, today)
    [only] = history(doctor, visit)
    assert only['version'] == 1 and text_of(only) == FIRST
    assert only['recorded_by']['id'] == doctor.user['id']
    assert history(doctor, booked(doctor, patient, today + DAY)) == []


def test_only_its_doctor_may_amend(patient, new_doctor, admin, base_url, today):
    doctor, other = new_doctor(), new_doctor()
    visit = completed(doctor, patient, today)
    path = f'/api/appointments/{visit}/treatment'
    assert other.put(path, SECOND).status == 404
    for caller in (patient, admin, reception(base_url)):
        resp = caller.put(path, SECOND)
        assert resp.status == 403 and set(resp.json) == {'error'}
    assert [text_of(v) for v in history(doctor, visit)] == [FIRST]


def test_the_history_is_not_for_reception_nor_other_people(
        patient, new_doctor, make_user, base_url, today):
    doctor, other = new_doctor(), new_doctor()
    visit = completed(doctor, patient, today)
    path = f'/api/appointments/{visit}/treatment/history'
    assert reception(base_url).get(path).status == 403
    assert other.get(path).status == 404
    assert make_user(base_url, 'patient').get(path).status == 404


def test_a_visit_not_completed_cannot_be_amended(patient, new_doctor, today):
    doctor = new_doctor()
    visit = booked(doctor, patient, today)
    resp = doctor.put(f'/api/appointments/{visit}/treatment', SECOND)
    assert resp.status == 409 and 'completed' in resp.json['error']
    assert doctor.get(f'/api/appointments/{visit}').json['treatment'] is None


def test_an_amendment_needs_a_diagnosis_and_a_treatment(patient, new_doctor, today):
    doctor = new_doctor()
    visit = completed(doctor, patient, today)
    resp = doctor.put(f'/api/appointments/{visit}/treatment', {'diagnosis': 'x'})
    assert resp.status == 400 and resp.json['error'].startswith('treatment')
    assert len(history(doctor, visit)) == 1


def test_each_amendment_writes_one_audit_entry_without_its_text(patient, new_doctor, today):
    doctor = new_doctor()
    visit = completed(doctor, patient, today)
    assert doctor.put(f'/api/appointments/{visit}/treatment', SECOND).status == 200
    assert doctor.put(f'/api/appointments/{visit}/treatment', {}).status == 400
    with database.connection_context():
        entries = list(AuditEvent.select().where(AuditEvent.action == 'treatment.amend',
                                                 AuditEvent.target == f'appointment:{visit}'))
    assert [(e.actor_id, e.actor_role, e.subject_patient_id) for e in entries] == [
        (doctor.user['id'], 'doctor', patient.user['id'])]
    assert 'grade 2' not in repr(entries[0].__data__)


def form_fields(page, action):
    return {i['name']: i.get('value', '') for i in page.form(action)['inputs']}


def test_the_doctor_amends_from_the_visit_page_and_sees_earlier_versions(
        patient, new_doctor, today):
    doctor = new_doctor()
    visit = completed(doctor, patient, today)
    page_path = f'/doctor/appointments/{visit}'
    action = page_path + '/treatment'
    page = get_page(doctor, page_path)
    assert 'Amend' in page.html and 'Earlier versions' not in page.html
    assert f'>{FIRST["diagnosis"]}</textarea>' in page.html  # prefilled with the record

    resp = submit(doctor, action, {**page.hidden(action), 'diagnosis': SECOND['diagnosis'],
                                   'treatment': ''})
    assert resp.status == 400
    assert field_error(resp.text, 'treatment') == 'Treatment is required.'
    assert f'>{SECOND["diagnosis"]}</textarea>' in resp.text
    assert '<details class="amend" open>' in resp.text  # the form stays open with the error

    resp = submit(doctor, action, {**page.hidden(action), **SECOND})
    assert resp.status == 303 and location(resp) == page_path
    page = get_page(doctor, page_path)
    recorded = page.html.split('id="record"')[1].split('id="versions"')[0]
    assert SECOND['treatment'] in recorded and f'by {doctor.user["name"]}' in recorded
    earlier = page.html.split('id="versions"')[1]
    assert 'Version 1' in earlier and FIRST['treatment'] in earlier
    assert f'by {doctor.user["name"]}' in earlier
    assert 'is amended' in page.html


def test_the_doctor_opens_an_upcoming_visit_with_the_patients_name_and_phone(
        base_url, make_user, new_doctor, today):
    doctor = new_doctor()
    patient = make_user(base_url, 'patient', name='Vera Upcoming', phone='+44 20 7946 0000')
    visit = booked(doctor, patient, today + 3 * DAY)
    upcoming = get_page(doctor, '/doctor').html.split('id="upcoming"')[1]
    assert f'/doctor/appointments/{visit}' in upcoming
    page = get_page(doctor, f'/doctor/appointments/{visit}')
    assert page.html.split('<h1>')[1].startswith('Vera Upcoming</h1>')
    facts = page.html.split('id="patient-facts"')[1].split('</p>')[0]
    assert '+44 20 7946 0000' in facts
    assert 'Amend' not in page.html and f'/doctor/appointments/{visit}/complete' not in page.html


def test_a_page_amendment_by_another_doctor_is_refused(patient, new_doctor, today):
    doctor, other = new_doctor(), new_doctor()
    visit = completed(doctor, patient, today)
    resp = other.post(f'/doctor/appointments/{visit}/treatment',
                      data=urlencode({'csrf_token': other.csrf_token, **SECOND}), csrf=False)
    assert resp.status == 404
    assert [text_of(v) for v in history(doctor, visit)] == [FIRST]


def test_amendments_at_once_each_keep_a_version_or_are_refused(patient, new_doctor, today):
    doctor = new_doctor()
    visit = completed(doctor, patient, today)
    records = [{'diagnosis': f'Reading {n}', 'treatment': 'Review'} for n in range(6)]
    with ThreadPoolExecutor(len(records)) as pool:
        answers = list(pool.map(
            lambda record: doctor.put(f'/api/appointments/{visit}/treatment', record).status,
            records))
    assert set(answers) <= {200, 409} and 200 in answers
    versions = history(doctor, visit)
    assert [v['version'] for v in versions] == list(range(answers.count(200) + 1, 0, -1))
    assert text_of(versions[-1]) == FIRST
    current = doctor.get(f'/api/appointments/{visit}').json['treatment']
    assert current['diagnosis'] == versions[0]['diagnosis']
