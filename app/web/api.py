"""JSON API: health, accounts, doctors, patients, appointments."""

from app import validate
from app.services import accounts, health
from app.web.base import json_body, json_response, page_of, paging, query_params, settings


def healthz():
    report = health.check(settings())
    status = 200 if all(v == 'ok' for v in report.values()) else 503
    return json_response({'status': 'ok' if status == 200 else 'down', **report}, status=status)


def create_doctor():
    doctor = accounts.create_doctor(json_body())
    return json_response({'id': doctor.id, **doctor.public()}, status=201)


def list_patients():
    params = query_params()
    limit, offset = paging(params)
    search = validate.text(params, 'q', required=False, max_len=100)
    total, patients = accounts.list_patients(search, limit, offset)
    return page_of([p.public() for p in patients], total, limit, offset)


ANYONE, USER = None, 'user'
PATIENT, DOCTOR, ADMIN = ('patient',), ('doctor',), ('admin',)

ROUTES = [
    ('GET', '/healthz', healthz, ANYONE, {}),
    ('POST', '/api/doctors', create_doctor, ADMIN, {}),
    ('GET', '/api/patients', list_patients, ADMIN, {}),
]
