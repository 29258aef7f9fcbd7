"""SPEC §8: two bookings of overlapping visits cannot both win, even at
the same moment. Twenty requests race over real HTTP, released together,
on SQLite and (with --backend=postgres) on PostgreSQL."""
import threading

import pytest

from app.db import database
from app.models import Appointment
from tests.calendar_site import book, day, new_doctor, reception, site
from tests.conftest import create_user

RACERS = 20


@pytest.fixture(scope='module')
def clinic(settings):
    with site(settings) as server:
        yield server


def race(attempts):
    """Run the callables all at once; their HTTP statuses, in order."""
    statuses = [None] * len(attempts)
    gate = threading.Barrier(len(attempts))

    def run(index, attempt):
        gate.wait()
        statuses[index] = attempt()
    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def booked_for(doctor_ids=None, patient_id=None):
    with database.connection_context():
        query = Appointment.select().where(Appointment.status == 'booked')
        if doctor_ids:
            query = query.where(Appointment.doctor.in_(doctor_ids))
        if patient_id:
            query = query.where(Appointment.patient == patient_id)
        return list(query)


def test_twenty_overlapping_bookings_of_one_doctor_give_one_winner(clinic):
    """Hour-long visits starting 10:00, 10:15, 10:30 and 10:45 on a
    15-minute grid all overlap each other, though no two start together
    but those of the same start."""
    doctor = new_doctor(((0, '09:00', '17:00'),), slot_minutes=15)
    desks = [reception(clinic.url) for _ in range(4)]
    patients = [create_user(clinic.url, 'patient').user['id'] for _ in range(RACERS)]
    starts = ['10:00', '10:15', '10:30', '10:45']

    def attempt(i):
        return lambda: book(desks[i % len(desks)], doctor, day(7), starts[i % len(starts)],
                            patient_id=patients[i], minutes=60).status
    statuses = race([attempt(i) for i in range(RACERS)])
    assert sorted(statuses) == [201] + [409] * (RACERS - 1), statuses
    assert len(booked_for(doctor_ids=[doctor])) == 1


def test_one_patient_booking_twenty_doctors_at_overlapping_times_wins_once(clinic):
    """Each doctor's hours start two minutes after the last one's, so the
    patient's hour-long visits start 10:00, 10:02, ... 10:38: all overlap."""
    doctors = [new_doctor(((0, f'09:{2 * i:02d}', '17:00'),), slot_minutes=60)
               for i in range(RACERS)]
    patient = create_user(clinic.url, 'patient')

    def attempt(i):
        return lambda: book(patient, doctors[i], day(7), f'10:{2 * i:02d}').status
    statuses = race([attempt(i) for i in range(RACERS)])
    assert sorted(statuses) == [201] + [409] * (RACERS - 1), statuses
    assert len(booked_for(patient_id=patient.user['id'])) == 1


def test_racing_reschedules_into_one_gap_give_one_winner(clinic):
    """Twenty visits of one doctor are moved at once into the same free
    hour: one lands there, the others stay where they were."""
    doctor = new_doctor(((0, '08:00', '20:00'),), slot_minutes=30)
    desk = reception(clinic.url)
    visits = []
    for i in range(RACERS):
        patient_id = create_user(clinic.url, 'patient').user['id']
        resp = book(desk, doctor, day(14), f'{8 + i // 2:02d}:{30 * (i % 2):02d}',
                    patient_id=patient_id)
        assert resp.status == 201, resp
        visits.append(resp.json['id'])
    gap = '18:30'

    def attempt(i):
        return lambda: desk.post(f'/api/appointments/{visits[i]}/reschedule',
                                 {'date': day(14), 'time': gap}).status
    statuses = race([attempt(i) for i in range(RACERS)])
    assert sorted(statuses) == [200] + [409] * (RACERS - 1), statuses
    assert sum(1 for a in booked_for(doctor_ids=[doctor]) if a.time == gap) == 1
