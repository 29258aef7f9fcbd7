"""The admin's dashboard: clinic figures (cached), the doctors, the patients'
directory and every appointment, as JSON and as /admin."""
import bottle

from app import validate
from app.errors import ApiError
from app.services import accounts, appointments, calendar, stats
from app.web import hours_form
from app.web.base import client_ip, clock, current_user, json_body, json_response, \
    query_params, settings
from app.web.exports import recent_exports
from app.web.forms import FORM_STATUSES, checkbox, field_errors, form, offset_param, page, \
    pager, redirect_with, section

PATIENTS_PAGE = 20
APPOINTMENTS_PAGE = 50
STATS_HEADERS = {hit: {'Content-Type': ['application/json; charset=utf-8'],
                       'Cache-Control': ['no-store'], 'X-Cache': ['HIT' if hit else 'MISS']}
                 for hit in (True, False)}


def admin_stats():
    body = stats.cached_json()
    hit = body is not None
    if not hit:
        body, hit = stats.get_json(settings(), clock())
    # The headers app.web.from_memory gives a hit too.
    bottle.response._headers.update(STATS_HEADERS[hit])
    return body


def dashboard_stats():
    """For partials/admin_stats.html on /admin."""
    figures, _ = stats.get(settings(), clock())
    return {'stats': figures}


def create_doctor():
    doctor = accounts.create_doctor(json_body())
    return json_response({'id': doctor.id, **doctor.public()}, status=201)


def admin_patients(params, errors):
    search = offset = None
    try:
        search = validate.text(params, 'q', required=False, max_len=100)
        offset = offset_param(params, 'patients_offset')
    except ApiError as exc:
        errors.update(field_errors(exc))
    total, patients = accounts.list_patients(search, PATIENTS_PAGE, offset or 0)
    return {'patients': patients, 'search': params.get('q', ''),
            'patients_pager': pager(total, PATIENTS_PAGE, offset or 0, 'patients_offset',
                                    '#patients')}


def admin_appointments(user, params, errors):
    filters = {key: params.get(key, '') for key in
               ('from', 'to', 'status', 'doctor_id', 'patient_id', 'order')}
    filters['order'] = filters['order'] or 'desc'
    try:
        offset = offset_param(params, 'offset')
        total, items = appointments.list_for(user, filters, APPOINTMENTS_PAGE, offset,
                                             client_ip())
    except ApiError as exc:
        errors.update(field_errors(exc))
        offset, total, items = 0, 0, []
    patient = None
    if filters['patient_id'] and 'patient_id' not in errors:
        try:
            patient = accounts.get_patient(filters['patient_id'])
        except ApiError:
            errors['patient_id'] = 'no such patient'
    return {'filters': filters, 'filter_patient': patient, 'appointments': items,
            'appointments_pager': pager(total, APPOINTMENTS_PAGE, offset, 'offset',
                                        '#appointments')}


def admin_context(user, form_data=None, errors=None):
    params = query_params()
    errors = dict(errors or {})
    _, doctors = accounts.list_doctors(limit=1000, include_inactive=True)
    return {'doctors': doctors, 'form': form_data or {}, 'errors': errors,
            'statuses': appointments.APPOINTMENT_STATUSES,
            **admin_patients(params, errors), **admin_appointments(user, params, errors),
            **section(dashboard_stats), **section(recent_exports, user)}


def admin_page():
    context = admin_context(current_user())
    if context['errors']:
        bottle.response.status = 400
    return page('admin.html', **context)


def add_doctor_submit():
    user = current_user()
    data = form('name', 'email', 'specialization', 'password')
    try:
        doctor = accounts.create_doctor(data)
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return page('admin.html', **admin_context(user, {**data, 'password': ''},
                                                  field_errors(exc)))
    redirect_with('/admin#doctors', f'Added {doctor.name} ({doctor.specialization}). '
                                    f'They can log in as {doctor.email}.')



def doctor_context(doctor, form_data=None, errors=None):
    """The doctor's details form, their week in a line and, once they are
    inactive, the future bookings still to move."""
    hours = calendar.hours_of(doctor)
    to_move = [] if doctor.active else accounts.future_bookings(clock(), doctor)
    return {'doctor': doctor, 'errors': errors or {},
            'form': form_data or {'name': doctor.name, 'specialization': doctor.specialization,
                                  'active': doctor.active},
            'slot_minutes': hours['slot_minutes'],
            'week': hours_form.summary(hours_form.week_from_hours(hours['hours'])),
            'affected': appointments.in_order(a.id for a in to_move), 'can_move': True}


def doctor_page(doctor_id):
    return page('admin_doctor.html', **doctor_context(accounts.get_doctor(doctor_id)))


def edit_doctor_submit(doctor_id):
    data = form('name', 'specialization')
    try:
        data['active'] = checkbox('active')
        doctor, to_move = accounts.update_doctor(clock(), doctor_id, data)
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return page('admin_doctor.html', **doctor_context(accounts.get_doctor(doctor_id), data,
                                                          field_errors(exc)))
    message = f'Saved {doctor.name}.'
    if not doctor.active:
        count = len(to_move)
        message += (' They are inactive: patients cannot book them. '
                    + (f'{count} future booking{"s" if count > 1 else ""} to move, listed '
                       'below; none was cancelled.' if count else 'They have no future bookings.'))
    redirect_with(f'/admin/doctors/{doctor.id}', message)


ADMIN = ('admin',)

ROUTES = [
    # Polled by dashboards, measured by SPEC P4: a remembered admin session
    # and cached figures are answered before routing (app.web.from_memory).
    ('GET', '/api/admin/stats', admin_stats, ADMIN,
     {'from_memory': (stats.cached_json, STATS_HEADERS[True])}),
    ('POST', '/api/doctors', create_doctor, ADMIN, {}),
    ('GET', '/admin', admin_page, ADMIN, {}),
    ('POST', '/admin/doctors', add_doctor_submit, ADMIN, {}),
    ('GET', '/admin/doctors/<doctor_id:int>', doctor_page, ADMIN, {}),
    ('POST', '/admin/doctors/<doctor_id:int>', edit_doctor_submit, ADMIN, {}),
]
