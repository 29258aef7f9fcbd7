"""Booking, cancelling, completing; listing with filters.

Each change writes its audit entry in the change's own transaction, so a
change without its entry (or an entry without its change) is never
committed; a refused change writes nothing. `ip` is the client's address
(None when no request is behind the call)."""
import datetime

import peewee

from app import validate
from app.db import database
from app.errors import ApiError, bad_request, conflict, not_found
from app.models import APPOINTMENT_STATUSES, Appointment, Treatment, User, utcnow
from app.services import accounts, audit, stats

# The slots the booking page offers: every 30 minutes, 09:00 to 16:30.
SLOT_TIMES = tuple(f'{h:02d}:{m:02d}' for h in range(9, 17) for m in (0, 30))

# How far ahead a patient may book.
BOOKING_HORIZON = datetime.timedelta(days=365)

STAFF = ('doctor', 'admin')

Doctor = User.alias('doctor')
Patient = User.alias('patient')


def _query():
    """Appointments with doctor, patient and treatment in one query."""
    return (Appointment
            .select(Appointment, Doctor, Patient, Treatment)
            .join(Doctor, on=(Appointment.doctor == Doctor.id)).switch(Appointment)
            .join(Patient, on=(Appointment.patient == Patient.id)).switch(Appointment)
            .join(Treatment, peewee.JOIN.LEFT_OUTER,
                  on=(Treatment.appointment == Appointment.id),
                  attr='treatment_row'))


def to_json(appt):
    treatment = getattr(appt, 'treatment_row', None)
    return {
        'id': appt.id,
        'date': appt.date.isoformat(),
        'time': appt.time,
        'status': appt.status,
        'reason': appt.reason,
        'doctor': {'id': appt.doctor.id, 'name': appt.doctor.name,
                   'specialization': appt.doctor.specialization},
        'patient': {'id': appt.patient.id, 'name': appt.patient.name},
        'treatment': treatment.public() if treatment and treatment.id else None,
    }


def visible_to(user):
    query = _query()
    if user.role == 'patient':
        query = query.where(Appointment.patient == user.id)
    elif user.role == 'doctor':
        query = query.where(Appointment.doctor == user.id)
    return query


def get_for(user, appointment_id):
    """The appointment if `user` may see it; 404 otherwise. Records nothing:
    for the checks of a change and for showing again a record the user has
    just acted on; opening a record is `view`."""
    appt = visible_to(user).where(Appointment.id == appointment_id).first()
    if appt is None:
        raise not_found('appointment not found')
    return appt


def _target(appt):
    return f'appointment:{appt.id}'


def view(user, appointment_id, ip=None):
    """Open one appointment. A doctor or admin opening it has viewed the
    patient's record ('appointment.view'); a patient reading their own
    record writes nothing."""
    appt = get_for(user, appointment_id)
    if user.role in STAFF:
        audit.record('appointment.view', user, appt.patient.id, _target(appt), ip)
    return appt


def list_for(user, filters, limit, offset, ip=None):
    """(total, page) of the appointments `user` may see, filtered.

    `filters` is the raw query mapping; each filter is checked here. A
    doctor or admin listing one patient's appointments has viewed that
    patient's history ('history.view'). Lists that are not about one patient
    (a day, a doctor, a status) write nothing: an entry for every patient on
    every page load would bury the record views."""
    query = visible_to(user)
    on_date = validate.date(filters, 'date', required=False)
    start = validate.date(filters, 'from', required=False)
    end = validate.date(filters, 'to', required=False)
    status = validate.choice(filters, 'status', APPOINTMENT_STATUSES, required=False)
    doctor_id = validate.identifier(filters, 'doctor_id', required=False)
    patient_id = validate.identifier(filters, 'patient_id', required=False)
    if on_date:
        query = query.where(Appointment.date == on_date)
    if start:
        query = query.where(Appointment.date >= start)
    if end:
        query = query.where(Appointment.date <= end)
    if status:
        query = query.where(Appointment.status == status)
    if doctor_id:
        query = query.where(Appointment.doctor == doctor_id)
    if patient_id:
        query = query.where(Appointment.patient == patient_id)
    order = filters.get('order')
    if order not in (None, '', 'asc', 'desc'):
        raise bad_request('order', 'must be asc or desc')
    if order == 'desc':
        query = query.order_by(Appointment.date.desc(), Appointment.time.desc(), Appointment.id.desc())
    else:
        query = query.order_by(Appointment.date, Appointment.time, Appointment.id)
    result = query.count(), list(query.limit(limit).offset(offset))
    if patient_id and user.role in STAFF and (
            User.select().where(User.id == patient_id, User.role == 'patient').exists()):
        audit.record('history.view', user, patient_id, f'patient:{patient_id}', ip)
    return result


def earlier_visits(user, appt, limit=5):
    """The patient's other completed visits that `user` may see, newest
    first: shown beside an opened appointment, whose view is recorded."""
    return list(visible_to(user)
                .where(Appointment.patient == appt.patient.id,
                       Appointment.status == 'completed',
                       Appointment.id != appt.id)
                .order_by(Appointment.date.desc(), Appointment.time.desc(),
                          Appointment.id.desc())
                .limit(limit))


def _check_not_past(clock, day, time):
    now = clock.now()
    if day < now.date() or (day == now.date() and time <= now.strftime('%H:%M')):
        raise bad_request('date', 'is in the past; pick a future date and time')
    if day > now.date() + BOOKING_HORIZON:
        raise bad_request('date', 'is more than a year ahead')


def book(clock, user, data, ip=None):
    """Book for the patient (or, for an admin, for `patient_id`)."""
    if user.role == 'admin':
        patient_id = accounts.get_patient(validate.identifier(data, 'patient_id')).id
    elif user.role == 'patient':
        patient_id = user.id
    else:
        raise ApiError(403, 'only patients and admins can book appointments')
    doctor_id = validate.identifier(data, 'doctor_id')
    day = validate.date(data, 'date')
    time = validate.time(data, 'time')
    reason = validate.text(data, 'reason', required=False, max_len=1000, multiline=True)
    doctor = User.get_or_none((User.id == doctor_id) & (User.role == 'doctor')
                              & (User.active == True))  # noqa: E712
    if doctor is None:
        raise bad_request('doctor_id', 'no such doctor')
    _check_not_past(clock, day, time)
    try:
        with database.atomic():
            database.after_commit(stats.invalidate)
            appt = Appointment.create(patient=patient_id, doctor=doctor, date=day,
                                      time=time, reason=reason, status='booked')
            audit.record('appointment.book', user, patient_id, _target(appt), ip)
    except peewee.IntegrityError:
        # The partial unique indexes decide, so two racing requests cannot
        # both get the slot; say which side is taken.
        if (Appointment.select().where(Appointment.doctor == doctor, Appointment.date == day,
                                       Appointment.time == time,
                                       Appointment.status == 'booked').exists()):
            raise conflict('time: the doctor already has an appointment at this date and time',
                           field='time')
        raise conflict('time: you already have an appointment at this date and time', field='time')
    return get_for(user, appt.id)


def _transition(user, appt, new_status, action, ip):
    updated = (Appointment
               .update(status=new_status, updated_at=utcnow())
               .where(Appointment.id == appt.id, Appointment.status == 'booked')
               .execute())
    if not updated:
        raise conflict(f'appointment is {appt.status.replace("_", "-")}, not booked')
    appt.status = new_status
    audit.record(action, user, appt.patient.id, _target(appt), ip)
    database.after_commit(stats.invalidate)


def cancel(user, appointment_id, ip=None):
    if user.role not in ('patient', 'admin'):
        raise ApiError(403, 'only the patient or an admin can cancel')
    appt = get_for(user, appointment_id)
    with database.atomic():
        _transition(user, appt, 'cancelled', 'appointment.cancel', ip)
    return appt


def _doctor_appointment_due(clock, user, appointment_id):
    if user.role != 'doctor':
        raise ApiError(403, 'only the appointment\'s doctor can do this')
    appt = get_for(user, appointment_id)
    if appt.date > clock.today():
        raise conflict('appointment is on a future day; it can be completed on or after its date')
    return appt


def complete(clock, user, appointment_id, data, ip=None):
    diagnosis = validate.text(data, 'diagnosis', max_len=4000, multiline=True)
    treatment = validate.text(data, 'treatment', max_len=4000, multiline=True)
    prescription = validate.text(data, 'prescription', required=False, max_len=4000,
                                 multiline=True)
    appt = _doctor_appointment_due(clock, user, appointment_id)
    with database.atomic():
        _transition(user, appt, 'completed', 'treatment.record', ip)
        Treatment.create(appointment=appt.id, diagnosis=diagnosis, treatment=treatment,
                         prescription=prescription)
    return get_for(user, appointment_id)


def mark_no_show(clock, user, appointment_id, ip=None):
    appt = _doctor_appointment_due(clock, user, appointment_id)
    with database.atomic():
        _transition(user, appt, 'no_show', 'appointment.no_show', ip)
    return appt


def free_times(clock, doctor_id, day, patient=None):
    """The offered slots on `day` that the doctor (and patient) have free."""
    taken = (Appointment.select(Appointment.time)
             .where(Appointment.date == day, Appointment.status == 'booked',
                    (Appointment.doctor == doctor_id)
                    | (Appointment.patient == (patient.id if patient else 0))))
    busy = {row.time for row in taken}
    now = clock.now()
    return [t for t in SLOT_TIMES
            if t not in busy
            and (day > now.date() or (day == now.date() and t > now.strftime('%H:%M')))]
