"""The clinic calendar (SPEC §8): working hours, slots and time off, as JSON."""
from app.services import accounts, appointments, calendar
from app.web.base import clock, current_user, json_body, json_response, query_params, settings


def get_hours(doctor_id):
    return calendar.hours_of(accounts.get_doctor(doctor_id))


def put_hours(doctor_id):
    user = current_user()
    doctor = accounts.get_doctor(doctor_id)
    return calendar.set_hours(user, doctor, json_body())


def get_slots(doctor_id):
    user = current_user()
    doctor = accounts.get_doctor(doctor_id, active_only=user.role == 'patient')
    first, last = calendar.slot_range(query_params(), clock())
    patient_id = user.id if user.role == 'patient' else None
    return calendar.slots_json(calendar.free_slots(settings(), clock(), doctor, first, last,
                                                   patient_id=patient_id))


def list_time_off():
    entries = calendar.time_off_visible_to(current_user())
    return {'items': [calendar.time_off_json(entry) for entry in entries]}


def add_time_off():
    entry = calendar.add_time_off(current_user(), json_body())
    affected = calendar.affected_by(settings().tz, entry)
    return json_response({**calendar.time_off_json(entry),
                          'affected': [appointments.to_json(a) for a in
                                       appointments.in_order(a.id for a in affected)]},
                         status=201)


def delete_time_off(entry_id):
    calendar.get_time_off(current_user(), entry_id).delete_instance()
    return {'status': 'deleted'}


USER = 'user'
CALENDAR_KEEPERS = ('doctor', 'reception', 'admin')

ROUTES = [
    ('GET', '/api/doctors/<doctor_id:int>/hours', get_hours, USER, {}),
    ('PUT', '/api/doctors/<doctor_id:int>/hours', put_hours, ('doctor', 'admin'), {}),
    ('GET', '/api/doctors/<doctor_id:int>/slots', get_slots, USER, {}),
    ('GET', '/api/time-off', list_time_off, CALENDAR_KEEPERS, {}),
    ('POST', '/api/time-off', add_time_off, CALENDAR_KEEPERS, {}),
    ('DELETE', '/api/time-off/<entry_id:int>', delete_time_off, CALENDAR_KEEPERS, {}),
]
