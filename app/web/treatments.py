"""A visit's record after the visit: its doctor amends it, and its versions
are read with who recorded each and when (SPEC §9), as JSON and from the
doctor's visit page."""
from app.errors import ApiError
from app.services import appointments, treatments
from app.web.appointments import VISIT, visit_failure
from app.web.base import client_ip, clock, current_user, json_body, page_of, paging
from app.web.forms import form, redirect_with
from app.web.templating import when


def amend_treatment(appointment_id):
    user = current_user()
    appt = treatments.amend(user, appointment_id, json_body(), client_ip())
    return appointments.to_json(appt, user)


def treatment_history(appointment_id):
    limit, offset = paging()
    versions = treatments.history(current_user(), appointment_id, client_ip())
    return page_of([treatments.version_json(v, clock()) for v in versions[offset:offset + limit]],
                   len(versions), limit, offset)


def amend_submit(appointment_id):
    user = current_user()
    data = form('diagnosis', 'treatment', 'prescription')
    try:
        appt = treatments.amend(user, appointment_id, data, client_ip())
    except ApiError as exc:
        return visit_failure(user, appointment_id, exc, data, amending=True)
    redirect_with(f'/doctor/appointments/{appt.id}',
                  f'Record of {appt.patient.name}\'s visit on {when(appt)} is amended.')


APPOINTMENT = '/api/appointments/<appointment_id:int>'

ROUTES = [
    ('PUT', APPOINTMENT + '/treatment', amend_treatment, ('doctor',), {}),
    ('GET', APPOINTMENT + '/treatment/history', treatment_history,
     appointments.CLINICAL_READERS, {}),
    ('POST', VISIT + '/treatment', amend_submit, ('doctor',), {}),
]
