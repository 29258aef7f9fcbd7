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


def chosen(choice, errors):
    """(doctor or None, day, week start) from the raw choice; a bad value
    is named in `errors` and left out."""
    doctor = day = week = None
    try:
        doctor_id = validate.identifier(choice, 'doctor_id', required=False)
        doctor = accounts.get_doctor(doctor_id, active_only=True) if doctor_id else None
        day = validate.date(choice, 'date', required=False)
        week = validate.date(choice, 'week', required=False)
    except ApiError as exc:
        errors.setdefault(exc.field or 'doctor_id', field_errors(exc).popitem()[1])
    return doctor, day, week


def week_for(patient, doctor, day, week, choice):
    """The doctor's week of free times for this patient, and the chosen day's."""
    today = clock().today()
    start = week_view.start_of_week(today, week_view.horizon_end(settings(), today), week, day)
    if day and not start <= day < start + week_view.WEEK:
        day = None
    shown = week_view.build(settings(), clock(), doctor, start, PAGE,
                            {'patient_id': patient.id, 'doctor_id': doctor.id},
                            (day, choice.get('time')), '#week', patient_id=patient.id)
    return {'week': shown, 'day': day, 'times': week_view.times_on(shown, day)}


def booking_context(patient, choice, errors=None):
    errors = dict(errors or {})
    doctor, day, week = chosen(choice, errors)
    if day and week_view.day_refusal(settings(), clock().today(), day):
        errors.setdefault('date', week_view.day_refusal(settings(), clock().today(), day))
    context = {'patient': patient, 'doctor': doctor, 'choice': choice, 'errors': errors,
               'doctors': accounts.list_doctors(limit=1000)[1],
               'week': None, 'day': day, 'times': []}
    if doctor is not None:
        context.update(week_for(patient, doctor, day, week, choice))
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
    data = form('patient_id', 'doctor_id', 'date', 'time', 'reason', 'override')
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
