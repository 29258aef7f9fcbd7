"""Appointments: the doctors and their free times, booking, cancelling and
closing visits as JSON, and the pages where patients and doctors do the same:
/patient, /doctor and the doctor's visit page."""
import datetime
import itertools

import bottle

import tasks
from app import validate
from app.errors import ApiError
from app.services import accounts, appointments, calendar, treatments
from app.web import week_view
from app.web.base import client_ip, clock, current_user, json_body, json_response, page_of, \
    paging, query_params, settings
from app.web.audit import patient_access
from app.web.exports import recent_exports
from app.web.forms import FORM_STATUSES, field_errors, form, offset_param, page, pager, \
    redirect_with, section
from app.web.monthly_reports import monthly_reports_for
from app.web.templating import error_sentence, when

DAY = datetime.timedelta(days=1)
HISTORY_PAGE = 20
APPOINTMENTS_PAGE = 50


def doctor_json(doctor, staff):
    data = {'id': doctor.id, 'name': doctor.name, 'specialization': doctor.specialization}
    if staff:
        data.update(active=doctor.active, slot_minutes=doctor.slot_minutes)
    return data


def list_doctors():
    """Bookable doctors; staff also see those who left (SPEC §8)."""
    limit, offset = paging()
    staff = current_user().role in FRONT_DESK
    total, doctors = accounts.list_doctors(limit, offset, include_inactive=staff)
    return page_of([doctor_json(d, staff) for d in doctors], total, limit, offset)


def update_doctor(doctor_id):
    doctor, affected = accounts.update_doctor(clock(), doctor_id, json_body())
    data = {**doctor.public(), **doctor_json(doctor, True)}
    if not doctor.active:
        data['affected'] = [appointments.to_json(a, current_user())
                            for a in appointments.in_order(a.id for a in affected)]
    return data


def check_in_appointment(appointment_id):
    user = current_user()
    appt = appointments.check_in(settings(), clock(), user, appointment_id, client_ip())
    return appointments.to_json(appt, user)


def doctor_free_times(doctor_id):
    """One day's free starts (the booking page's older shape of /slots)."""
    params = query_params()
    day = validate.date(params, 'date')
    user = current_user()
    doctor = accounts.get_doctor(doctor_id, active_only=user.role == 'patient')
    patient_id = user.id if user.role == 'patient' else None
    found = calendar.free_slots(settings(), clock(), doctor, day, day, patient_id=patient_id)
    return {'date': day.isoformat(), 'times': [f'{s.time:%H:%M}' for s in found]}


def list_appointments():
    params = query_params()
    limit, offset = paging(params)
    user = current_user()
    total, items = appointments.list_for(user, params, limit, offset, client_ip())
    return page_of([appointments.to_json(a, user) for a in items], total, limit, offset)


def get_appointment(appointment_id):
    user = current_user()
    return appointments.to_json(appointments.view(user, appointment_id, client_ip()), user)


def book_appointment():
    user = current_user()
    appt = appointments.book(settings(), clock(), user, json_body(), client_ip())
    return json_response(appointments.to_json(appt, user), status=201)


def cancel_appointment(appointment_id):
    user = current_user()
    appt = appointments.cancel(settings(), clock(), user, appointment_id, json_body(),
                               client_ip())
    return appointments.to_json(appt, user)


def reschedule_appointment(appointment_id):
    user = current_user()
    appt = appointments.reschedule(settings(), clock(), user, appointment_id,
                                   json_body(), client_ip())
    tasks.queue_delivery()
    return appointments.to_json(appt, user)


def complete_appointment(appointment_id):
    user = current_user()
    appt = appointments.complete(clock(), user, appointment_id, json_body(), client_ip())
    return appointments.to_json(appt, user)


def no_show_appointment(appointment_id):
    user = current_user()
    appt = appointments.mark_no_show(settings(), clock(), user, appointment_id, client_ip())
    return appointments.to_json(appt, user)


def doctors_by_specialization():
    _, doctors = accounts.list_doctors(limit=1000)
    key = lambda d: (d.specialization or 'General').casefold()  # noqa: E731
    ordered = sorted(doctors, key=lambda d: (key(d), d.name.casefold()))
    return [(group[0].specialization or 'General', group)
            for group in (list(g) for _, g in itertools.groupby(ordered, key=key))]


def booking_choice(user, booking, params, today, errors):
    """The chosen doctor, the week of their free times shown and the chosen
    day's times (the booking form's choices)."""
    doctor = week_view.chosen_doctor(booking, errors)
    day, week = week_view.chosen_day(settings(), today, booking, errors, weeks=params)
    last_day = week_view.horizon_end(settings(), today)
    if doctor is None:
        return {'doctor': None, 'day': day, 'week': None, 'times': [], 'last_day': last_day}
    return {'doctor': doctor, 'last_day': last_day,
            **week_view.for_choice(settings(), clock(), doctor, day, week, '/patient',
                                   {'doctor_id': doctor.id}, booking.get('time'), '#book',
                                   patient_id=user.id)}


def patient_context(user, booking=None, errors=None):
    params = query_params()
    booking = booking or {'doctor_id': params.get('doctor_id', ''),
                          'date': params.get('date', ''), 'time': params.get('time', ''),
                          'reason': ''}
    errors = dict(errors or {})
    today = clock().today()
    _, upcoming = appointments.list_for(
        user, {'from': today.isoformat(), 'status': 'booked'}, 200, 0)
    # A visit cancelled before its day stays in sight under Upcoming, with
    # the reason: a patient looks for it there, not among past visits.
    _, called_off = appointments.list_for(
        user, {'from': today.isoformat(), 'status': 'cancelled'}, 50, 0)
    history_offset = offset_param(params, 'history_offset')
    history_total, history = appointments.list_for(
        user, {'to': today.isoformat(), 'order': 'desc'}, HISTORY_PAGE, history_offset)
    # Today's booked visits are upcoming, not history, until the doctor closes them.
    history = [a for a in history if not (a.date == today and a.status == 'booked')]
    history_total -= sum(1 for a in upcoming if a.date == today)
    return {'booking': booking, 'errors': errors, 'groups': doctors_by_specialization(),
            **booking_choice(user, booking, params, today, errors),
            'upcoming': upcoming, 'called_off': called_off, 'history': history,
            'history_pager': pager(history_total, HISTORY_PAGE, history_offset,
                                   'history_offset', '#history'),
            **section(recent_exports, user), **section(patient_access, user)}


def patient_page():
    context = patient_context(current_user())
    if context['errors']:
        bottle.response.status = 400
    return page('patient.html', **context)


def book_submit():
    user = current_user()
    data = form('doctor_id', 'date', 'time', 'reason')
    try:
        appt = appointments.book(settings(), clock(), user, data, client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        errors = field_errors(exc)
        if exc.status == 409 and already_booked(user, data):
            errors = {'time': 'is booked for you already (the form was sent twice?); '
                              'see it under Upcoming'}
        return page('patient.html', **patient_context(user, data, errors))
    redirect_with('/patient', f'Booked: {when(appt)} with {appt.doctor.name}.')


def already_booked(user, data):
    """Whether the patient holds this very visit: same doctor, day and time."""
    _, same_day = appointments.list_for(user, {'date': data['date'], 'status': 'booked',
                                               'doctor_id': data['doctor_id']}, 50, 0)
    return any(a.time == data['time'] for a in same_day)


def cancel_submit(appointment_id):
    user = current_user()
    try:
        appt = appointments.cancel(settings(), clock(), user, appointment_id,
                                   form('reason'), client_ip())
    except ApiError as exc:
        if exc.status != 409:
            raise
        bottle.response.status = 409
        return page('patient.html', **patient_context(user, errors={'': exc.message}))
    redirect_with('/patient', f'Cancelled your appointment on {when(appt)} '
                              f'with {appt.doctor.name}.')


def doctor_page():
    user = current_user()
    today = clock().today()
    _, todays = appointments.list_for(user, {'date': today.isoformat()}, 500, 0)
    open_total, still_open = appointments.list_for(
        user, {'to': (today - DAY).isoformat(), 'status': 'booked', 'order': 'desc'}, 100, 0)
    upcoming_total, upcoming = appointments.list_for(
        user, {'from': (today + DAY).isoformat(), 'status': 'booked'}, APPOINTMENTS_PAGE, 0)
    return page('doctor.html', todays=todays, still_open=still_open, open_total=open_total,
                upcoming=upcoming, upcoming_total=upcoming_total,
                now_time=clock().now().strftime('%H:%M'),
                monthly_reports=monthly_reports_for(user))


def visit_context(user, appt, form_data=None, errors=None, amending=False):
    """`due`: the visit may be completed (from the start of its day);
    `started`: a no-show may be recorded (only once its start has passed);
    `versions`: the record's versions, newest (the current one) first;
    `amending`: the amend form comes back with what was typed."""
    booked = appt.status == 'booked'
    return {'appt': appt, 'form': form_data or {}, 'errors': errors or {},
            'earlier': appointments.earlier_visits(user, appt),
            'versions': treatments.history_of(appt), 'amending': amending,
            'due': booked and appt.date <= clock().today(),
            'started': booked and clock().now() >= appointments.starts_at(settings(), appt)}


def visit_page(appointment_id):
    user = current_user()
    appt = appointments.view(user, appointment_id, client_ip())
    return page('doctor_visit.html', **visit_context(user, appt))


def visit_failure(user, appointment_id, exc, data=None, amending=False):
    if exc.status not in FORM_STATUSES:
        raise exc
    bottle.response.status = exc.status
    appt = appointments.get_for(user, appointment_id)
    return page('doctor_visit.html',
                **visit_context(user, appt, data, field_errors(exc), amending))


def complete_submit(appointment_id):
    user = current_user()
    data = form('diagnosis', 'treatment', 'prescription')
    try:
        appt = appointments.complete(clock(), user, appointment_id, data, client_ip())
    except ApiError as exc:
        return visit_failure(user, appointment_id, exc, data)
    redirect_with('/doctor', f'Visit of {appt.patient.name} on {when(appt)} is completed.')


def check_in_submit(appointment_id):
    """The doctor checks in a patient who came straight to the room."""
    user = current_user()
    try:
        appt = appointments.check_in(settings(), clock(), user, appointment_id, client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        redirect_with('/doctor#today', error_sentence(exc.message, ''))
    redirect_with('/doctor#today', f'{appt.patient.name} is checked in.')


def no_show_submit(appointment_id):
    user = current_user()
    try:
        appt = appointments.mark_no_show(settings(), clock(), user, appointment_id, client_ip())
    except ApiError as exc:
        return visit_failure(user, appointment_id, exc)
    redirect_with('/doctor', f'{appt.patient.name} marked as no-show for {when(appt)}.')


USER = 'user'
PATIENT, DOCTOR, ADMIN = ('patient',), ('doctor',), ('admin',)
FRONT_DESK = ('reception', 'admin')
FRONT_DESK_OR_DOCTOR = FRONT_DESK + DOCTOR
PATIENT_OR_FRONT_DESK = ('patient',) + FRONT_DESK
APPOINTMENT = '/api/appointments/<appointment_id:int>'
VISIT = '/doctor/appointments/<appointment_id:int>'

ROUTES = [
    ('GET', '/api/doctors', list_doctors, USER, {}),
    ('PUT', '/api/doctors/<doctor_id:int>', update_doctor, ADMIN, {}),
    ('GET', '/api/doctors/<doctor_id:int>/free-times', doctor_free_times, USER, {}),
    ('GET', '/api/appointments', list_appointments, USER, {}),
    ('POST', '/api/appointments', book_appointment, PATIENT_OR_FRONT_DESK, {}),
    ('GET', APPOINTMENT, get_appointment, USER, {}),
    ('POST', APPOINTMENT + '/cancel', cancel_appointment, PATIENT_OR_FRONT_DESK, {}),
    ('POST', APPOINTMENT + '/reschedule', reschedule_appointment, PATIENT_OR_FRONT_DESK, {}),
    ('POST', APPOINTMENT + '/complete', complete_appointment, DOCTOR, {}),
    ('POST', APPOINTMENT + '/no-show', no_show_appointment, DOCTOR, {}),
    ('POST', APPOINTMENT + '/check-in', check_in_appointment, FRONT_DESK_OR_DOCTOR, {}),
    ('GET', '/patient', patient_page, PATIENT, {}),
    ('POST', '/patient/appointments', book_submit, PATIENT, {}),
    ('POST', '/patient/appointments/<appointment_id:int>/cancel', cancel_submit, PATIENT, {}),
    ('GET', '/doctor', doctor_page, DOCTOR, {}),
    ('GET', VISIT, visit_page, DOCTOR, {}),
    ('POST', VISIT + '/complete', complete_submit, DOCTOR, {}),
    ('POST', VISIT + '/no-show', no_show_submit, DOCTOR, {}),
    ('POST', VISIT + '/check-in', check_in_submit, DOCTOR, {}),
]
