"""The front desk's day (SPEC §9): /reception lists one day's appointments
across all doctors in time order, with check-in, reschedule and cancel, and
a quick patient search that leads to booking for that patient.

Reception sees no clinical text: the rows given to the page are built here
from the time, the people, the status and the check-in, never from the
visit's record."""
import datetime

import bottle

from app import validate
from app.errors import ApiError
from app.services import accounts, appointments, reminder_history
from app.web import reschedule
from app.web.base import client_ip, clock, current_user, query_params, settings
from app.web.forms import FORM_STATUSES, field_errors, form, offset_param, page, pager, \
    redirect_with
from app.web.templating import when

FRONT_DESK = ('reception', 'admin')
# A patient a few minutes behind is normal; ten minutes past the start is
# when the desk phones them or offers the time to a walk-in.
LATE_AFTER = datetime.timedelta(minutes=10)
# A clinic's busiest day stays far below this; the list is one page to print.
DAY_LIMIT = 1000
SEARCH_PAGE = 20


def day_path(day):
    return f'/reception?date={day.isoformat()}'


def row(appt, now, reminders=()):
    """What the desk sees of one appointment: no diagnosis, treatment or
    prescription, whatever the appointment carries; its reminders answer
    "why wasn't this patient reminded?"."""
    waiting = appt.status == 'booked' and appt.checked_in_at is None
    starts = appointments.starts_at(settings(), appt)
    return {'id': appt.id, 'date': appt.date, 'time': appt.time, 'minutes': appt.minutes,
            'status': appt.status,
            'patient': {'name': appt.patient.name, 'phone': appt.patient.phone},
            'doctor': {'name': appt.doctor.name},
            'checked_in': clock().localize(appt.checked_in_at),
            'confirmed': clock().localize(appt.confirmed_at),
            'reminders': [dict(item, at=clock().localize(_naive(item['at'])))
                          for item in reminders],
            'late': waiting and now >= starts + LATE_AFTER,
            'reschedule': reschedule.page_path(appt, back_to=day_path(appt.date))}


def day_rows(user, day):
    _, found = appointments.list_for(user, {'date': day.isoformat()}, DAY_LIMIT, 0)
    now = clock().now()
    sent = reminder_history.of_appointments([a.id for a in found])
    return [row(a, now, sent.get(a.id, ())) for a in found]


def _naive(stamp):
    return datetime.datetime.fromisoformat(stamp).replace(tzinfo=None) if stamp else None


def search(params):
    """The patients matching ?q= (a page of them), or None without a query."""
    needle = validate.text(params, 'q', required=False, max_len=100)
    if not needle:
        return {'q': '', 'found': None, 'found_pager': None}
    offset = offset_param(params, 'q_offset')
    total, found = accounts.list_patients(needle, SEARCH_PAGE, offset)
    return {'q': needle, 'found': found,
            'found_pager': pager(total, SEARCH_PAGE, offset, 'q_offset', '#search')}


def reception_context(day=None, errors=None):
    params = query_params()
    today = clock().today()
    day = day or validate.date(params, 'date', required=False) or today
    return {'day': day, 'is_today': day == today, 'rows': day_rows(current_user(), day),
            'prev_day': day - datetime.timedelta(days=1),
            'next_day': day + datetime.timedelta(days=1),
            'errors': errors or {}, **search(params)}


def reception_page():
    return page('reception.html', **reception_context())


def refused(exc, appointment_id):
    """The day list again with why the desk's action was refused."""
    if exc.status not in FORM_STATUSES:
        raise exc
    bottle.response.status = exc.status
    appt = appointments.get_for(current_user(), appointment_id)
    return page('reception.html', **reception_context(appt.date, field_errors(exc)))


def check_in_submit(appointment_id):
    try:
        appt = appointments.check_in(settings(), clock(), current_user(), appointment_id,
                                     client_ip())
    except ApiError as exc:
        return refused(exc, appointment_id)
    redirect_with(day_path(appt.date), f'{appt.patient.name} checked in ({appt.time}, '
                                       f'{appt.doctor.name}).')


def cancel_submit(appointment_id):
    try:
        appt = appointments.cancel(settings(), clock(), current_user(), appointment_id,
                                   form('reason'), client_ip())
    except ApiError as exc:
        return refused(exc, appointment_id)
    redirect_with(day_path(appt.date), f'Cancelled: {appt.patient.name}, {when(appt)} '
                                       f'with {appt.doctor.name}.')


DESK_APPOINTMENT = '/reception/appointments/<appointment_id:int>'

ROUTES = [
    ('GET', '/reception', reception_page, FRONT_DESK, {}),
    ('POST', DESK_APPOINTMENT + '/check-in', check_in_submit, FRONT_DESK, {}),
    ('POST', DESK_APPOINTMENT + '/cancel', cancel_submit, FRONT_DESK, {}),
]
