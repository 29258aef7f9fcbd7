"""Booking, rescheduling, cancelling, completing; listing with filters.

Whether a start is free is decided by app.services.calendar (hours, time
off, other visits) inside the booking transaction, with the people
involved locked (see _lock_people), so two overlapping bookings cannot
both win.

Each change writes its audit entry in the change's own transaction, so a
change without its entry (or an entry without its change) is never
committed; a refused change writes nothing. `ip` is the client's address
(None when no request is behind the call)."""
import datetime

import peewee

from app import mail, validate
from app.clock import utc_iso
from app.db import database, is_sqlite
from app.errors import ApiError, bad_request, conflict, not_found
from app.models import APPOINTMENT_STATUSES, Appointment, Reminder, Treatment, User, utcnow
from app.services import accounts, audit, calendar, ics, stats
from app.templating import render_email

STAFF = ('doctor', 'admin')
# Who books, moves and cancels for patients (SPEC §9).
FRONT_DESK = ('reception', 'admin')
# Who may read diagnosis, treatment and prescription: never reception (SPEC §2).
CLINICAL_READERS = ('patient', 'doctor', 'admin')

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


def reads_clinical_text(user):
    return user is not None and user.role in CLINICAL_READERS


def to_json(appt, viewer=None):
    """The appointment as `viewer` may see it: its clinical record only for
    those who read clinical text (none without a viewer)."""
    treatment = getattr(appt, 'treatment_row', None) if reads_clinical_text(viewer) else None
    moved = appt.rescheduled_from_date
    return {
        'id': appt.id,
        'date': appt.date.isoformat(),
        'time': appt.time,
        'minutes': appt.minutes,
        'status': appt.status,
        'reason': appt.reason,
        'cancel_reason': appt.cancel_reason,
        'checked_in_at': utc_iso(appt.checked_in_at),
        'rescheduled_from': ({'date': moved.isoformat(), 'time': appt.rescheduled_from_time}
                             if moved else None),
        'doctor': {'id': appt.doctor.id, 'name': appt.doctor.name,
                   'specialization': appt.doctor.specialization},
        'patient': {'id': appt.patient.id, 'name': appt.patient.name},
        'treatment': treatment.public() if treatment and treatment.id else None,
    }


def in_order(ids):
    """The appointments `ids`, with doctor and patient, in time order: for
    the lists staff work through (time off, a doctor who left)."""
    return list(_query()
                .where(Appointment.id.in_(list(ids)))
                .order_by(Appointment.date, Appointment.time, Appointment.id))


def of_patient(patient_id):
    """The appointments of one patient, with doctor and patient."""
    return _query().where(Appointment.patient == patient_id)


def _visibility(user):
    """The conditions that keep `user` to the appointments they may see."""
    if user.role == 'patient':
        return [Appointment.patient == user.id]
    if user.role == 'doctor':
        return [Appointment.doctor == user.id]
    return []


def visible_to(user):
    conditions = _visibility(user)
    return _query().where(*conditions) if conditions else _query()


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
    every page load would bury the record views.

    The count and the page's ids come from the appointment table alone, on
    its indexes; only the page's rows are joined to people and treatment.
    At a million appointments that keeps a page, deep ones too, in
    milliseconds (joining every skipped row took a second)."""
    conditions, patient_id = _list_conditions(filters)
    conditions = _visibility(user) + conditions
    order = filters.get('order')
    if order not in (None, '', 'asc', 'desc'):
        raise bad_request('order', 'must be asc or desc')
    columns = (Appointment.date, Appointment.time, Appointment.id)
    ordering = [column.desc() for column in columns] if order == 'desc' else columns
    matching = Appointment.select(Appointment.id)
    if conditions:
        matching = matching.where(*conditions)
    # COUNT(*) over the table itself: peewee's count() wraps the query in a
    # subquery, which SQLite then counts row by row.
    total = matching.select(peewee.fn.COUNT(peewee.SQL('*'))).scalar()
    page_ids = [row_id for row_id, in matching.order_by(*ordering).limit(limit).offset(offset)
                .tuples()]
    items = (list(_query().where(Appointment.id.in_(page_ids)).order_by(*ordering))
             if page_ids else [])
    if patient_id and user.role in STAFF and (
            User.select().where(User.id == patient_id, User.role == 'patient').exists()):
        audit.record('history.view', user, patient_id, f'patient:{patient_id}', ip)
    return total, items


def _list_conditions(filters):
    """The list filters of `filters`, each checked, as conditions; and the
    patient filtered on (its history view is audited)."""
    on_date = validate.date(filters, 'date', required=False)
    start = validate.date(filters, 'from', required=False)
    end = validate.date(filters, 'to', required=False)
    status = validate.choice(filters, 'status', APPOINTMENT_STATUSES, required=False)
    doctor_id = validate.identifier(filters, 'doctor_id', required=False)
    patient_id = validate.identifier(filters, 'patient_id', required=False)
    conditions = []
    if on_date:
        conditions.append(Appointment.date == on_date)
    if start:
        conditions.append(Appointment.date >= start)
    if end:
        conditions.append(Appointment.date <= end)
    if status:
        conditions.append(Appointment.status == status)
    if doctor_id:
        conditions.append(Appointment.doctor == doctor_id)
    if patient_id:
        conditions.append(Appointment.patient == patient_id)
    return conditions, patient_id


def coming_visits(user, patient_id, today, limit=10):
    """The patient's booked visits from `today` on that `user` may see,
    soonest first: what the front desk needs on a patient's page."""
    return list(visible_to(user)
                .where(Appointment.patient == patient_id, Appointment.status == 'booked',
                       Appointment.date >= today)
                .order_by(Appointment.date, Appointment.time, Appointment.id)
                .limit(limit))


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


def _lock_people(*user_ids):
    """Serialise the bookings that could clash with this one. On SQLite
    every write transaction is IMMEDIATE, so writers already run one at a
    time; on PostgreSQL lock the doctor's and the patient's rows, in id
    order so two bookings never wait on each other."""
    if not is_sqlite():
        list(User.select(User.id)
             .where(User.id.in_(sorted(set(user_ids))))
             .order_by(User.id)
             .for_update())


def _override(user, data):
    if data.get('override') in (None, False):
        return False
    if validate.boolean(data, 'override') and user.role not in FRONT_DESK:
        raise ApiError(403, 'override: only reception and admins can book outside the calendar')
    return True


def _minutes(data, default):
    return validate.integer(data, 'minutes', required=False, low=5, high=480) or default


def book(settings, clock, user, data, ip=None):
    """Book for the patient (or, for reception and admins, for
    `patient_id`), at a free start of the doctor's calendar; staff may
    book outside it with "override": true."""
    if user.role in FRONT_DESK:
        patient = accounts.get_patient(validate.identifier(data, 'patient_id'))
    elif user.role == 'patient':
        # Who books is who the visit is for: the name and id are known.
        patient = User(id=user.id, name=user.name, role='patient')
    else:
        raise ApiError(403, 'only patients, reception and admins can book appointments')
    patient_id = patient.id
    doctor_id = validate.identifier(data, 'doctor_id')
    day = validate.date(data, 'date')
    time = validate.time(data, 'time')
    reason = validate.text(data, 'reason', required=False, max_len=1000, multiline=True)
    override = _override(user, data)
    doctor = User.get_or_none((User.id == doctor_id) & (User.role == 'doctor')
                              & (User.active == True))  # noqa: E712
    if doctor is None:
        raise bad_request('doctor_id', 'no such doctor')
    minutes = _minutes(data, doctor.slot_minutes)
    if user.role == 'patient' and minutes != doctor.slot_minutes:
        # A patient could otherwise hold a doctor's whole day with one visit.
        raise ApiError(403, f'minutes: visits booked online last {doctor.slot_minutes} '
                            'minutes; the front desk books longer ones')
    try:
        with database.atomic():
            _lock_people(doctor.id, patient_id)
            calendar.check_start(settings, clock, doctor, patient_id, day, time, minutes,
                                 override=override)
            database.after_commit(stats.invalidate)
            appt = Appointment.create(patient=patient_id, doctor=doctor, date=day, time=time,
                                      minutes=minutes, reason=reason, status='booked')
            audit.record('appointment.book', user, patient_id, _target(appt), ip)
    except peewee.IntegrityError:
        # The partial unique indexes on a start are the last line behind
        # the calendar check: say which side is taken.
        raise _taken(doctor, day, time)
    # Answered from what the booking holds (the row as written, its doctor
    # and patient, no record yet), not read back: a query fewer per booking.
    appt.patient = patient
    return appt


def _taken(doctor, day, time):
    if (Appointment.select().where(Appointment.doctor == doctor, Appointment.date == day,
                                   Appointment.time == time,
                                   Appointment.status == 'booked').exists()):
        return conflict('time: the doctor already has an appointment at this date and time',
                        field='time')
    return conflict('time: you already have an appointment at this date and time', field='time')


def starts_at(settings, appt):
    """The appointment's start as an aware UTC instant."""
    return calendar.slots.instant(appt.date, datetime.time.fromisoformat(appt.time), settings.tz)


def _check_cutoff(settings, clock, user, appt, what):
    """A patient changes their own visit until CHANGE_CUTOFF_HOURS before it
    starts (and never once it has started); staff any time."""
    if user.role != 'patient':
        return
    limit = starts_at(settings, appt) - datetime.timedelta(hours=settings.change_cutoff_hours)
    if clock.now() >= limit:
        if settings.change_cutoff_hours:
            raise conflict(f'this visit can no longer be {what} online: changes close '
                           f'{settings.change_cutoff_hours} hours before it starts; '
                           'please call the clinic')
        raise conflict(f'this visit has started and can no longer be {what}')


def reschedule(settings, clock, user, appointment_id, data, ip=None):
    """Move a booked appointment to a new start (and, if given, another
    doctor), keeping its id and patient. Returns (appointment, before):
    `before` is (date, time, doctor) for the email to the patient."""
    if user.role not in ('patient',) + FRONT_DESK:
        raise ApiError(403, 'only the patient, reception or an admin can reschedule')
    appt = get_for(user, appointment_id)
    day = validate.date(data, 'date')
    time = validate.time(data, 'time')
    override = _override(user, data)
    doctor = appt.doctor
    new_doctor_id = validate.identifier(data, 'doctor_id', required=False)
    if new_doctor_id and new_doctor_id != doctor.id:
        doctor = User.get_or_none((User.id == new_doctor_id) & (User.role == 'doctor')
                                  & (User.active == True))  # noqa: E712
        if doctor is None:
            raise bad_request('doctor_id', 'no such doctor')
    elif not doctor.active:
        raise conflict(f'doctor_id: {doctor.name} no longer takes bookings; '
                       'move the visit to another doctor', field='doctor_id')
    if appt.status != 'booked':
        raise conflict(f'appointment is {appt.status.replace("_", "-")}, not booked')
    if (doctor.id, day, time) == (appt.doctor.id, appt.date, appt.time):
        raise bad_request('time', 'the visit is at this date and time already')
    _check_cutoff(settings, clock, user, appt, 'moved')
    minutes = appt.minutes if doctor.id == appt.doctor.id else doctor.slot_minutes
    before = (appt.date, appt.time, appt.doctor)
    try:
        with database.atomic():
            _lock_people(doctor.id, appt.doctor.id, appt.patient.id)
            calendar.check_start(settings, clock, doctor, appt.patient.id, day, time, minutes,
                                 override=override, exclude_id=appt.id)
            moved = (Appointment
                     .update(date=day, time=time, doctor=doctor.id, minutes=minutes,
                             rescheduled_from_date=appt.date, rescheduled_from_time=appt.time,
                             ics_sequence=Appointment.ics_sequence + 1, updated_at=utcnow())
                     .where(Appointment.id == appt.id, Appointment.status == 'booked',
                            Appointment.date == appt.date, Appointment.time == appt.time)
                     .execute())
            if not moved:
                raise conflict('the appointment changed meanwhile; reload and try again')
            # Reminders are for the new time now: each kind may remind it afresh
            # (the outbox keys still keep a day's email to one per patient).
            Reminder.delete().where(Reminder.appointment == appt.id).execute()
            audit.record('appointment.reschedule', user, appt.patient.id, _target(appt), ip,
                         detail=f'{appt.date.isoformat()} {appt.time} -> '
                                f'{day.isoformat()} {time}')
            _queue_moved_email(settings, appt, before, doctor, day, time)
    except peewee.IntegrityError:
        raise _taken(doctor, day, time)
    return get_for(user, appt.id)


def spoken_when(day, time):
    """'Tuesday 1 December 2026, 09:30'."""
    return f'{day:%A} {day.day} {day:%B %Y}, {time}'


def _queue_moved_email(settings, appt, before, doctor, day, time):
    """The patient's "your appointment has moved" email, in the move's own
    transaction; the caller asks for delivery after the commit. A walk-in
    without an email hears it from the desk instead."""
    patient = appt.patient
    if not patient.email:
        return
    text = render_email('mail/rescheduled.txt', name=patient.name,
                        before=spoken_when(before[0], before[1]), before_doctor=before[2].name,
                        after=spoken_when(day, time), after_doctor=doctor.name,
                        specialization=doctor.specialization,
                        clinic_name=settings.clinic_name, clinic_address=settings.clinic_address,
                        link=f'{settings.base_url}/patient')
    key = f'reschedule:{appt.id}:{day.isoformat()}T{time}:{utcnow():%Y%m%d%H%M%S%f}'
    minutes = appt.minutes if doctor.id == appt.doctor.id else doctor.slot_minutes
    # The bumped SEQUENCE under the same UID: calendar apps move the event.
    event = ics.Event(appt.id, doctor.name, doctor.specialization or '',
                      calendar.slots.instant(day, datetime.time.fromisoformat(time), settings.tz),
                      minutes, appt.ics_sequence + 1)
    mail.queue_message(key, patient.email, f'Appointment moved to {spoken_when(day, time)}',
                       text, attachments=[('appointment.ics', ics.CONTENT_TYPE,
                                           ics.calendar(settings, [event], utcnow()))])


def _transition(user, appt, new_status, action, ip, **changes):
    updated = (Appointment
               .update(status=new_status, updated_at=utcnow(), **changes)
               .where(Appointment.id == appt.id, Appointment.status == 'booked')
               .execute())
    if not updated:
        raise conflict(f'appointment is {appt.status.replace("_", "-")}, not booked')
    appt.status = new_status
    audit.record(action, user, appt.patient.id, _target(appt), ip)
    database.after_commit(stats.invalidate)


def cancel(settings, clock, user, appointment_id, data=None, ip=None):
    """Cancel, with an optional reason the patient and staff see."""
    if user.role not in ('patient',) + FRONT_DESK:
        raise ApiError(403, 'only the patient, reception or an admin can cancel')
    appt = get_for(user, appointment_id)
    reason = validate.text(data or {}, 'reason', required=False, max_len=500)
    if appt.status == 'booked':
        _check_cutoff(settings, clock, user, appt, 'cancelled')
    with database.atomic():
        _transition(user, appt, 'cancelled', 'appointment.cancel', ip, cancel_reason=reason)
    appt.cancel_reason = reason
    return appt


def check_in(settings, clock, user, appointment_id, ip=None):
    """The patient has arrived: reception, an admin or the visit's own doctor
    records it once, on a booked appointment (SPEC §9)."""
    if user.role not in FRONT_DESK + ('doctor',):
        raise ApiError(403, 'only reception, admins and the appointment\'s doctor can check in')
    appt = get_for(user, appointment_id)
    if appt.status != 'booked':
        raise conflict(f'appointment is {appt.status.replace("_", "-")}, not booked')
    if appt.checked_in_at:
        raise conflict(f'{appt.patient.name} is already checked in')
    if appt.date != clock.today():
        raise conflict(f'the appointment is on {appt.date.isoformat()}; patients are checked in '
                       'on the day of their visit')
    with database.atomic():
        updated = (Appointment
                   .update(checked_in_at=clock.utcnow(), updated_at=utcnow())
                   .where(Appointment.id == appt.id, Appointment.status == 'booked',
                          Appointment.checked_in_at.is_null())
                   .execute())
        if not updated:
            raise conflict('the appointment changed meanwhile; reload and try again')
        audit.record('appointment.check_in', user, appt.patient.id, _target(appt), ip)
    return get_for(user, appt.id)


def _doctor_appointment_due(clock, user, appointment_id):
    if user.role != 'doctor':
        raise ApiError(403, 'only the appointment\'s doctor can do this')
    appt = get_for(user, appointment_id)
    if appt.date > clock.today():
        raise conflict('appointment is on a future day; it can be completed on or after its date')
    return appt


def _check_started(settings, clock, appt):
    """A no-show is a fact only once the start has passed (SPEC §8)."""
    if clock.now() < starts_at(settings, appt):
        raise conflict(f'the visit starts at {appt.time}; a no-show can be recorded '
                       'only after that')


def clinical_fields(data):
    """Diagnosis, treatment and prescription from a request body, checked."""
    return {'diagnosis': validate.text(data, 'diagnosis', max_len=4000, multiline=True),
            'treatment': validate.text(data, 'treatment', max_len=4000, multiline=True),
            'prescription': validate.text(data, 'prescription', required=False,
                                          max_len=4000, multiline=True)}


def complete(clock, user, appointment_id, data, ip=None):
    fields = clinical_fields(data)
    appt = _doctor_appointment_due(clock, user, appointment_id)
    with database.atomic():
        _transition(user, appt, 'completed', 'treatment.record', ip)
        Treatment.create(appointment=appt.id, **fields)
    return get_for(user, appointment_id)


def mark_no_show(settings, clock, user, appointment_id, ip=None):
    appt = _doctor_appointment_due(clock, user, appointment_id)
    _check_started(settings, clock, appt)
    with database.atomic():
        _transition(user, appt, 'no_show', 'appointment.no_show', ip)
    return appt
