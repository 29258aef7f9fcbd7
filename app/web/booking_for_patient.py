"""Booking for a patient at the front desk (SPEC §9): the patient found by
the desk's search, a doctor picked from all bookable ones, the same week of
free times patients book from (app.web.week_view), and for emergencies an
explicit "outside hours (override)" booking at any time."""
import bottle

from app import validate
from app.errors import ApiError
from app.services import accounts, appointments
from app.web import week_view
from app.web.base import client_ip, clock, current_user, query_params, settings
from app.web.forms import FORM_STATUSES, field_errors, form, page, redirect_with
from app.web.templating import error_sentence, when

FRONT_DESK = ('reception', 'admin')
PAGE = '/reception/book'
FIELD_LABELS = {'date': 'Date', 'time': 'Time', 'doctor_id': 'Doctor', 'week': 'Week',
                'minutes': 'Length', 'reason': 'Reason'}


def booking_context(patient, choice, errors=None):
    errors = dict(errors or {})
    doctor = week_view.chosen_doctor(choice, errors)
    day, week = week_view.chosen_day(settings(), clock().today(), choice, errors)
    context = {'patient': patient, 'doctor': doctor, 'choice': choice, 'errors': errors,
               'doctors': accounts.list_doctors(limit=1000)[1],
               'week': None, 'day': day, 'times': []}
    if doctor is not None:
        context.update(week_view.for_choice(
            settings(), clock(), doctor, day, week, PAGE,
            {'patient_id': patient.id, 'doctor_id': doctor.id}, choice.get('time'), '#week',
            patient_id=patient.id))
    return context


def booking_page():
    params = query_params()
    patient = accounts.get_patient(validate.identifier(params, 'patient_id'))
    choice = {name: params.get(name, '') for name in ('doctor_id', 'week', 'date', 'time')}
    context = booking_context(patient, choice)
    if context['errors']:
        bottle.response.status = 400
    return page('reception_book.html', **context)


def refusal_sentence(exc):
    field, message = field_errors(exc).popitem()
    return error_sentence(message, FIELD_LABELS.get(field, ''))


def booking_submit():
    # any_time: sent from "Another time, outside the free times", which a
    # refusal opens again with what was typed.
    data = form('patient_id', 'doctor_id', 'date', 'time', 'reason', 'override', 'any_time')
    patient = accounts.get_patient(validate.identifier(data, 'patient_id'))
    request = {key: data[key] for key in ('doctor_id', 'date', 'time', 'reason')}
    request['patient_id'] = patient.id
    if data['override']:
        request['override'] = True
    try:
        appt = appointments.book(settings(), clock(), current_user(), request, client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        context = booking_context(patient, data, {'refusal': refusal_sentence(exc)})
        return page('reception_book.html', **context)
    redirect_with(f'/reception?date={appt.date.isoformat()}',
                  f'Booked: {patient.name}, {when(appt)} with {appt.doctor.name}.')


ROUTES = [
    ('GET', PAGE, booking_page, FRONT_DESK, {}),
    ('POST', PAGE, booking_submit, FRONT_DESK, {}),
]
