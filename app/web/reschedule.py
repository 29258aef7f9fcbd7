"""The reschedule page (SPEC §8): a patient moves their own appointment,
reception and admins move anyone's, by picking a free time in the week
view; staff may switch to another doctor, or tick an override to book
outside the doctor's hours. A refusal shows next to the week."""
from urllib.parse import quote

import bottle

import tasks
from app import validate
from app.errors import ApiError
from app.services import accounts, appointments
from app.web import week_view
from app.web.base import client_ip, clock, current_user, query_params, settings
from app.web.forms import FORM_STATUSES, HOME, checkbox, field_errors, form, page, \
    redirect_with, safe_next
from app.web.templating import error_sentence, nice_date

FRONT_DESK = ('reception', 'admin')
FIELD_LABELS = {'date': 'Date', 'time': 'Time', 'doctor_id': 'Doctor', 'override': 'Outside hours'}
PAGE = '/appointments/<appointment_id:int>/reschedule'


def page_path(appt, back_to=None):
    """The reschedule page of `appt`; with `back_to` (a path on this site),
    the page goes back there once the visit is moved."""
    path = f'/appointments/{appt.id}/reschedule'
    return path + '?next=' + quote(back_to, safe='') if back_to else path


def chosen_doctor(user, appt, raw_id, errors):
    """The doctor whose week is shown: the appointment's, or for staff the
    one they switched to."""
    if user.role not in FRONT_DESK:
        return appt.doctor
    try:
        doctor_id = validate.identifier({'doctor_id': raw_id}, 'doctor_id', required=False)
        if doctor_id and doctor_id != appt.doctor.id:
            return accounts.get_doctor(doctor_id, active_only=True)
    except ApiError as exc:
        errors.setdefault('doctor_id', field_errors(exc).popitem()[1])
    return appt.doctor


def doctor_choices(appt):
    """The bookable doctors, and the appointment's own even when they left:
    their booked visits are the ones reception has to move."""
    doctors = accounts.list_doctors(limit=1000)[1]
    if all(d.id != appt.doctor.id for d in doctors):
        doctors.insert(0, appt.doctor)
    return doctors


def week_of(appt, doctor, choice, errors):
    """The week view and the chosen day's free times for moving `appt`."""
    day, week = week_view.chosen_day(settings(), clock().today(), choice, errors)
    switched = doctor.id != appt.doctor.id
    params = {'doctor_id': doctor.id if switched else None, 'next': safe_next(choice.get('next'))}
    return week_view.for_choice(settings(), clock(), doctor, day, week, page_path(appt), params,
                                choice.get('time'), '#week', patient_id=appt.patient.id,
                                exclude_id=appt.id,
                                minutes=None if switched else appt.minutes)


def reschedule_context(user, appt, choice, errors=None):
    errors = dict(errors or {})
    staff = user.role in FRONT_DESK
    doctor = chosen_doctor(user, appt, choice.get('doctor_id'), errors)
    context = {'appt': appt, 'doctor': doctor, 'staff': staff, 'choice': choice,
               'errors': errors, 'next': safe_next(choice.get('next')),
               'back': safe_next(choice.get('next')) or HOME.get(user.role),
               'week': None, 'day': None, 'times': [],
               'doctors': doctor_choices(appt) if staff else []}
    if appt.status == 'booked' and doctor.active:
        context.update(week_of(appt, doctor, choice, errors))
    return context


def reschedule_page(appointment_id):
    user = current_user()
    appt = appointments.get_for(user, appointment_id)
    params = query_params()
    choice = {name: params.get(name, '') for name in ('doctor_id', 'week', 'date', 'time', 'next')}
    context = reschedule_context(user, appt, choice)
    if context['errors']:
        bottle.response.status = 400
    return page('reschedule.html', **context)


def refusal_sentence(exc):
    """'Time: too soon; book at least 60 minutes ahead'-style, for the alert."""
    field, message = field_errors(exc).popitem()
    return error_sentence(message, FIELD_LABELS.get(field, ''))


def after_move(user, appt, data):
    """Where the mover goes next: `next` when it is ours, else their page."""
    target = safe_next(data.get('next'))
    if target:
        return target
    if user.role in HOME:
        return HOME[user.role]
    return page_path(appt)


def reschedule_submit(appointment_id):
    user = current_user()
    before = appointments.get_for(user, appointment_id)
    data = form('doctor_id', 'date', 'time', 'override', 'next')
    request = {'date': data['date'], 'time': data['time'], 'doctor_id': data['doctor_id']}
    try:
        if checkbox('override'):
            request['override'] = True
        appt = appointments.reschedule(settings(), clock(), user, appointment_id, request,
                                       client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        context = reschedule_context(user, before, data, {'refusal': refusal_sentence(exc)})
        return page('reschedule.html', **context)
    tasks.queue_delivery()
    moved_to = f'{nice_date(appt.date)}, {appt.time}'
    if appt.doctor.id != before.doctor.id:
        moved_to += f' with {appt.doctor.name}'
    redirect_with(after_move(user, appt, data),
                  f'Moved: {nice_date(before.date)}, {before.time} → {moved_to}')


ROUTES = [
    ('GET', PAGE, reschedule_page, ('patient',) + FRONT_DESK, {}),
    ('POST', PAGE, reschedule_submit, ('patient',) + FRONT_DESK, {}),
]
