"""JSON API: health, accounts, doctors, patients, appointments."""

from app import validate
from app.services import accounts, appointments, health
from app.web.base import client_ip, clock, current_user, json_body, json_response, page_of, \
    paging, query_params, settings


def healthz():
    report = health.check(settings())
    status = 200 if all(v == 'ok' for v in report.values()) else 503
    return json_response({'status': 'ok' if status == 200 else 'down', **report}, status=status)


def list_doctors():
    limit, offset = paging()
    total, doctors = accounts.list_doctors(limit, offset)
    items = [{'id': d.id, 'name': d.name, 'specialization': d.specialization} for d in doctors]
    return page_of(items, total, limit, offset)


def create_doctor():
    doctor = accounts.create_doctor(json_body())
    return json_response({'id': doctor.id, **doctor.public()}, status=201)


def doctor_free_times(doctor_id):
    params = query_params()
    day = validate.date(params, 'date')
    user = current_user()
    accounts.get_doctor(doctor_id)
    patient = user if user.role == 'patient' else None
    return {'date': day.isoformat(),
            'times': appointments.free_times(clock(), doctor_id, day, patient)}


def list_patients():
    params = query_params()
    limit, offset = paging(params)
    search = validate.text(params, 'q', required=False, max_len=100)
    total, patients = accounts.list_patients(search, limit, offset)
    return page_of([p.public() for p in patients], total, limit, offset)


def list_appointments():
    params = query_params()
    limit, offset = paging(params)
    total, items = appointments.list_for(current_user(), params, limit, offset, client_ip())
    return page_of([appointments.to_json(a) for a in items], total, limit, offset)


def get_appointment(appointment_id):
    return appointments.to_json(appointments.view(current_user(), appointment_id, client_ip()))


def book_appointment():
    appt = appointments.book(clock(), current_user(), json_body(), client_ip())
    return json_response(appointments.to_json(appt), status=201)


def cancel_appointment(appointment_id):
    return appointments.to_json(appointments.cancel(current_user(), appointment_id, client_ip()))


def complete_appointment(appointment_id):
    appt = appointments.complete(clock(), current_user(), appointment_id, json_body(),
                                 client_ip())
    return appointments.to_json(appt)


def no_show_appointment(appointment_id):
    appt = appointments.mark_no_show(clock(), current_user(), appointment_id, client_ip())
    return appointments.to_json(appt)


ANYONE, USER = None, 'user'
PATIENT, DOCTOR, ADMIN = ('patient',), ('doctor',), ('admin',)

ROUTES = [
    ('GET', '/healthz', healthz, ANYONE, {}),
    ('GET', '/api/doctors', list_doctors, USER, {}),
    ('POST', '/api/doctors', create_doctor, ADMIN, {}),
    ('GET', '/api/doctors/<doctor_id:int>/free-times', doctor_free_times, USER, {}),
    ('GET', '/api/patients', list_patients, ADMIN, {}),
    ('GET', '/api/appointments', list_appointments, USER, {}),
    ('POST', '/api/appointments', book_appointment, ('patient', 'admin'), {}),
    ('GET', '/api/appointments/<appointment_id:int>', get_appointment, USER, {}),
    ('POST', '/api/appointments/<appointment_id:int>/cancel', cancel_appointment,
     ('patient', 'admin'), {}),
    ('POST', '/api/appointments/<appointment_id:int>/complete', complete_appointment, DOCTOR, {}),
    ('POST', '/api/appointments/<appointment_id:int>/no-show', no_show_appointment, DOCTOR, {}),
]
