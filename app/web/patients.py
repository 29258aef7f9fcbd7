"""Patients at the front desk (SPEC §9): search, walk-in registration and
editing a patient's details, as JSON and as /patients pages; and a patient's
own details (PUT /api/me, the "My details" form on /patient)."""
import bottle

import tasks
from app import validate
from app.errors import ApiError
from app.services import accounts, appointments, patients
from app.web import login_locks, reschedule
from app.web.appointments import patient_context
from app.web.base import client_ip, clock, current_user, json_body, json_response, page_of, \
    paging, query_params, settings
from app.web.forms import FORM_STATUSES, checkbox, field_errors, form, page, redirect_with

DETAILS = ('name', 'email', 'phone', 'date_of_birth')


def _search(user, params, limit, offset):
    """Reception and admins search everyone; a doctor only their patients."""
    search = validate.text(params, 'q', required=False, max_len=100)
    doctor_id = user.id if user.role == 'doctor' else None
    return accounts.list_patients(search, limit, offset, doctor_id=doctor_id)


def list_patients():
    params = query_params()
    limit, offset = paging(params)
    total, found = _search(current_user(), params, limit, offset)
    return page_of([p.public() for p in found], total, limit, offset)


def _deliver(mailed):
    if mailed:
        tasks.queue_delivery()


def create_patient():
    patient, invited = patients.register_walk_in(settings(), clock().today(), json_body(),
                                                 current_user(), client_ip())
    _deliver(invited)
    return json_response({'user': patient.public(), 'invited': invited}, status=201)


def get_patient(patient_id):
    return {'user': accounts.get_patient(patient_id).public()}


def update_patient(patient_id):
    patient, mailed, invited = patients.update_patient(settings(), clock().today(), patient_id,
                                                       json_body(), current_user(), client_ip())
    _deliver(mailed)
    return {'user': patient.public(), 'invited': invited}


def update_me():
    patient = patients.update_own(clock().today(), current_user(), json_body(), client_ip())
    return {'user': patient.public()}


def _form_details():
    """The details form's fields; an empty optional field clears it."""
    data = form(*DETAILS)
    return {field: value or None for field, value in data.items()}


def _failed(exc, template, **context):
    if exc.status not in FORM_STATUSES:
        raise exc
    bottle.response.status = exc.status
    return page(template, errors=field_errors(exc), **context)


def new_patient_page():
    return page('patient_new.html')


def new_patient_submit():
    data = _form_details()
    try:
        patient, invited = patients.register_walk_in(settings(), clock().today(), data,
                                                     current_user(), client_ip())
    except ApiError as exc:
        return _failed(exc, 'patient_new.html', form=data)
    _deliver(invited)
    redirect_with(f'/patients/{patient.id}', f'Registered {patient.name}.' + (
        f' An invitation to choose a password is on its way to {patient.email}.'
        if invited else '') + ' Book their visit with “Book for this patient”.')


def _edit_form(patient):
    return {'name': patient.name, 'email': patient.email, 'phone': patient.phone,
            'date_of_birth': patient.date_of_birth, 'reminders_enabled': patient.reminders_enabled}


def _patient_page_context(patient):
    """What the desk's page of a patient shows beside the details form."""
    coming = appointments.coming_visits(current_user(), patient.id, clock().today())
    here = f'/patients/{patient.id}'
    return {'patient': patient, 'has_password': patients.has_password(patient),
            'login_delayed_until': login_locks.delay_for(patient),
            'coming': [{'appt': appt, 'reschedule': reschedule.page_path(appt, back_to=here)}
                       for appt in coming]}


def patient_page(patient_id):
    patient = accounts.get_patient(patient_id)
    return page('patient_edit.html', form=_edit_form(patient), **_patient_page_context(patient))


def patient_submit(patient_id):
    patient = accounts.get_patient(patient_id)
    data = _form_details()
    try:
        data['reminders_enabled'] = checkbox('reminders')
        patient, mailed, invited = patients.update_patient(
            settings(), clock().today(), patient_id, data, current_user(), client_ip())
    except ApiError as exc:
        return _failed(exc, 'patient_edit.html', form=data, **_patient_page_context(patient))
    _deliver(mailed)
    redirect_with(f'/patients/{patient.id}', f'Saved {patient.name}.' + (
        f' An invitation to choose a password is on its way to {patient.email}.'
        if invited else ''))


def my_details_submit():
    user = current_user()
    data = {field: value or None for field, value in form('name', 'phone',
                                                          'date_of_birth').items()}
    try:
        patients.update_own(clock().today(), user, data, client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return page('patient.html', **patient_context(user, errors=field_errors(exc)),
                    details=data)
    redirect_with('/patient#details', 'Your details are saved.')


PATIENT = ('patient',)
FRONT_DESK = ('reception', 'admin')
SEARCHERS = ('reception', 'admin', 'doctor')
ONE = '<patient_id:int>'

ROUTES = [
    ('GET', '/api/patients', list_patients, SEARCHERS, {}),
    ('POST', '/api/patients', create_patient, FRONT_DESK, {}),
    ('GET', '/api/patients/' + ONE, get_patient, FRONT_DESK, {}),
    ('PUT', '/api/patients/' + ONE, update_patient, FRONT_DESK, {}),
    ('PUT', '/api/me', update_me, PATIENT, {}),
    ('GET', '/patients/new', new_patient_page, FRONT_DESK, {}),
    ('POST', '/patients/new', new_patient_submit, FRONT_DESK, {}),
    ('GET', '/patients/' + ONE, patient_page, FRONT_DESK, {}),
    ('POST', '/patients/' + ONE, patient_submit, FRONT_DESK, {}),
    ('POST', '/patient/details', my_details_submit, PATIENT, {}),
]
