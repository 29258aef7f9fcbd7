"""The audit trail for people: the admin's searchable list (JSON and
/admin/audit) and, for a patient, who accessed their record (JSON and a
section of /patient). A patient's view leaves out their own actions and
the staff's client addresses."""
import bottle

from app import validate
from app.errors import ApiError
from app.models import User
from app.services import audit
from app.web.base import clock, current_user, page_of, paging, query_params
from app.web.forms import field_errors, offset_param, page, pager

AUDIT_PAGE = 50
PATIENT_PAGE = 10
FILTERS = ('actor_id', 'patient_id', 'action', 'from', 'to')

# The patient's section says it in their words.
PATIENT_WORDING = {
    'login.failed': 'tried to log in to your account with a wrong password',
    'appointment.view': 'opened one of your appointments',
    'history.view': 'looked through your appointments',
    'appointment.book': 'booked an appointment for you',
    'appointment.cancel': 'cancelled one of your appointments',
    'treatment.record': 'recorded the diagnosis and treatment of a visit',
    'treatment.amend': 'corrected the record of a visit',
    'appointment.no_show': 'marked you as not having come to an appointment',
    'export.create': 'exported your history to a file',
    'export.download': 'downloaded the file of your history',
    'outbox_message.view': 'opened an email the clinic sent about you',
    'outbox_attachment.download': 'downloaded the attachment of an email about you',
}


def list_audit():
    params = query_params()
    limit, offset = paging(params)
    total, events = audit.page(audit.search(params, clock().tz), limit, offset)
    return page_of([audit.to_json(e, clock()) for e in events], total, limit, offset)


def my_audit():
    limit, offset = paging()
    total, events = audit.page(audit.about_patient(current_user().id), limit, offset)
    return page_of([audit.to_patient_json(e, clock()) for e in events], total, limit, offset)


def _person(user_id, role=None):
    number = validate.whole_number(user_id, max_digits=9)
    if number is None or number < 1:
        return None
    query = User.select().where(User.id == number)
    if role:
        query = query.where(User.role == role)
    return query.first()


def audit_page():
    params = query_params()
    filters = {key: params.get(key, '') for key in FILTERS}
    errors = {}
    try:
        offset = offset_param(params, 'offset')
        total, events = audit.page(audit.search(filters, clock().tz), AUDIT_PAGE, offset)
    except ApiError as exc:
        errors.update(field_errors(exc))
        offset, total, events = 0, 0, []
    if errors:
        bottle.response.status = 400
    return page('admin_audit.html', events=events, filters=filters, errors=errors,
                actions=audit.ACTIONS,
                filter_actor=_person(filters['actor_id']),
                filter_patient=_person(filters['patient_id'], 'patient'),
                pager=pager(total, AUDIT_PAGE, offset, 'offset', '#events'))


def _who(event):
    actor = getattr(event, 'actor_row', None)
    if actor is None or actor.id is None:
        return 'Someone'
    role = event.actor_role or actor.role
    return f'{actor.name} ({"clinic staff" if role == "admin" else role})'


def patient_access(user):
    """For partials/patient_audit.html on /patient."""
    try:
        offset = offset_param(query_params(), 'access_offset')
    except ApiError:
        offset = 0
    total, events = audit.page(audit.about_patient(user.id), PATIENT_PAGE, offset)
    items = [{'at': e.at, 'who': _who(e),
              'what': PATIENT_WORDING.get(e.action, audit.describe(e.action).lower())}
             for e in events]
    return {'access_events': items,
            'access_pager': pager(total, PATIENT_PAGE, offset, 'access_offset', '#access')}


ADMIN, PATIENT = ('admin',), ('patient',)

ROUTES = [
    ('GET', '/api/audit', list_audit, ADMIN, {}),
    ('GET', '/api/me/audit', my_audit, PATIENT, {}),
    ('GET', '/admin/audit', audit_page, ADMIN, {}),
]
