"""The clinic calendar (SPEC §8): working hours, slots and time off, as JSON,
and the pages where an admin or a doctor edits hours and time off."""
import bottle

from app.errors import ApiError
from app.services import accounts, appointments, calendar
from app.web import hours_form
from app.web.base import clock, current_user, json_body, json_response, page_of, paging, \
    query_params, settings
from app.web.forms import FORM_STATUSES, field_errors, form, form_value, page, redirect_with
from app.web.templating import nice_date


def get_hours(doctor_id):
    patient = current_user().role == 'patient'
    return calendar.hours_of(accounts.get_doctor(doctor_id, active_only=patient))


def put_hours(doctor_id):
    user = current_user()
    doctor = accounts.get_doctor(doctor_id)
    return calendar.set_hours(user, doctor, json_body())


def get_slots(doctor_id):
    user = current_user()
    doctor = accounts.get_doctor(doctor_id, active_only=user.role == 'patient')
    first, last = calendar.slot_range(query_params(), clock())
    if not doctor.active:
        return calendar.slots_json([])  # staff see them, but nobody books them
    patient_id = user.id if user.role == 'patient' else None
    return calendar.slots_json(calendar.free_slots(settings(), clock(), doctor, first, last,
                                                   patient_id=patient_id))


def list_time_off():
    limit, offset = paging()
    entries = calendar.time_off_visible_to(current_user())
    return page_of([calendar.time_off_json(entry) for entry in entries.limit(limit).offset(offset)],
                   entries.count(), limit, offset)


def add_time_off():
    user = current_user()
    entry = calendar.add_time_off(user, json_body(), clock().today())
    affected = calendar.affected_by(settings().tz, entry)
    return json_response({**calendar.time_off_json(entry),
                          'affected': [appointments.to_json(a, user) for a in
                                       appointments.in_order(a.id for a in affected)]},
                         status=201)


def delete_time_off(entry_id):
    calendar.get_time_off(current_user(), entry_id).delete_instance()
    return {'status': 'deleted'}


def hours_url(user, doctor):
    return '/doctor/hours' if user.role == 'doctor' else f'/admin/doctors/{doctor.id}/hours'


def hours_page(doctor, week=None, slot_minutes=None, errors=None, focus=None):
    user = current_user()
    if week is None:
        saved = calendar.hours_of(doctor)
        week = hours_form.week_from_hours(saved['hours'])
        slot_minutes = saved['slot_minutes']
    errors = errors or {}
    focus = focus or next((field for field in errors if field), None)
    return page('hours.html', doctor=doctor, own=user.id == doctor.id,
                action=hours_url(user, doctor), days=hours_form.days(week),
                slot_minutes=slot_minutes, errors=errors, focus=focus,
                unsaved=bool(focus and not errors))


def editable_doctor(doctor_id):
    """The doctor whose hours the page edits; a doctor asking for another
    doctor's gets 404, as from the JSON."""
    doctor = accounts.get_doctor(doctor_id)
    calendar.may_edit_hours(current_user(), doctor)
    return doctor


def my_hours_page():
    return hours_page(accounts.get_doctor(current_user().id))


def my_hours_submit():
    return save_hours(accounts.get_doctor(current_user().id))


def doctor_hours_page(doctor_id):
    doctor = editable_doctor(doctor_id)
    if current_user().role == 'doctor':
        bottle.redirect('/doctor/hours')
    return hours_page(doctor)


def doctor_hours_submit(doctor_id):
    return save_hours(editable_doctor(doctor_id))


def save_hours(doctor):
    """Save the week, or (for "add a range" / "remove") show it again
    edited and unsaved."""
    user = current_user()
    week = hours_form.week_from_form()
    slot_minutes = form_value('slot_minutes')
    focus = hours_form.edit(week, form_value('action', 'save'))
    if focus:
        return hours_page(doctor, week, slot_minutes, focus=focus)
    data, fields, errors = hours_form.check(week, slot_minutes)
    if not errors:
        try:
            saved = calendar.set_hours(user, doctor, data)
        except ApiError as exc:
            if exc.status not in FORM_STATUSES:
                raise
            errors = hours_form.placed(exc, fields)
    if errors:
        bottle.response.status = 400
        return hours_page(doctor, week, slot_minutes, errors)
    whose = 'Your' if user.id == doctor.id else f"{doctor.name}'s"
    week = hours_form.summary(hours_form.week_from_hours(saved['hours']))
    redirect_with(hours_url(user, doctor),
                  f'{whose} hours are saved, {saved["slot_minutes"]}-minute visits: {week}.')


STAFF_TIME_OFF, DOCTOR_TIME_OFF = '/admin/time-off', '/doctor/time-off'
TIME_OFF_FIELDS = ('start_date', 'end_date', 'start_time', 'end_time', 'reason')
PAST_SHOWN = 20


def time_off_base(user):
    return DOCTOR_TIME_OFF if user.role == 'doctor' else STAFF_TIME_OFF


def time_off_page(form_data=None, errors=None):
    user = current_user()
    if user.role == 'doctor':
        names, bookable = {user.id: user.name}, []
    else:
        _, doctors = accounts.list_doctors(limit=1000, include_inactive=True)
        names, bookable = {d.id: d.name for d in doctors}, [d for d in doctors if d.active]
    today = clock().today()
    entries = list(calendar.time_off_visible_to(user))
    past = [e for e in entries if e.end_date < today]
    return page('time_off.html', base=time_off_base(user), names=names, doctors=bookable,
                current=[e for e in entries if e.end_date >= today],
                past=past[::-1][:PAST_SHOWN], past_total=len(past),
                form=form_data or {}, errors=errors or {})


def time_off_view():
    return time_off_page()


def add_time_off_submit():
    user = current_user()
    fields = TIME_OFF_FIELDS if user.role == 'doctor' else ('doctor_id',) + TIME_OFF_FIELDS
    data = form(*fields)
    try:
        parsed = calendar.parse_time_off(user, data, clock().today())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return time_off_page(data, field_errors(exc))
    entry = calendar.same_time_off(parsed)
    if entry:  # the form sent twice: the entry is there once
        redirect_with(f'{time_off_base(user)}/{entry.id}', 'This time off was added already.')
    entry = calendar.create_time_off(user, parsed)
    count = len(calendar.affected_by(settings().tz, entry))
    if count:
        message = (f'Time off added. It overlaps {count} booked '
                   f'appointment{"s" if count > 1 else ""}, listed below; nothing was cancelled.')
    else:
        message = 'Time off added. No booked appointment falls in it.'
    redirect_with(f'{time_off_base(user)}/{entry.id}', message)


def time_off_entry_page(entry_id):
    """One entry and the booked visits it overlaps, each to be moved; the
    list shrinks as they are."""
    user = current_user()
    entry = calendar.get_time_off(user, entry_id)
    doctor = accounts.get_doctor(entry.doctor_id) if entry.doctor_id else None
    affected = appointments.in_order(a.id for a in calendar.affected_by(settings().tz, entry))
    return page('time_off_entry.html', base=time_off_base(user), entry=entry, doctor=doctor,
                affected=affected, can_move=user.role in calendar.STAFF)


def delete_time_off_submit(entry_id):
    user = current_user()
    entry = calendar.get_time_off(user, entry_id)
    entry.delete_instance()
    redirect_with(time_off_base(user), f'Deleted the time off from {nice_date(entry.start_date)} '
                                       f'to {nice_date(entry.end_date)}.')


USER = 'user'
CALENDAR_KEEPERS = ('doctor', 'reception', 'admin')
DOCTOR, STAFF, DOCTOR_OR_ADMIN = ('doctor',), calendar.STAFF, ('doctor', 'admin')
DOCTOR_HOURS = '/admin/doctors/<doctor_id:int>/hours'
STAFF_ENTRY = STAFF_TIME_OFF + '/<entry_id:int>'
DOCTOR_ENTRY = DOCTOR_TIME_OFF + '/<entry_id:int>'

ROUTES = [
    ('GET', '/api/doctors/<doctor_id:int>/hours', get_hours, USER, {}),
    ('PUT', '/api/doctors/<doctor_id:int>/hours', put_hours, ('doctor', 'admin'), {}),
    ('GET', '/api/doctors/<doctor_id:int>/slots', get_slots, USER, {}),
    ('GET', '/api/time-off', list_time_off, CALENDAR_KEEPERS, {}),
    ('POST', '/api/time-off', add_time_off, CALENDAR_KEEPERS, {}),
    ('DELETE', '/api/time-off/<entry_id:int>', delete_time_off, CALENDAR_KEEPERS, {}),
    ('GET', '/doctor/hours', my_hours_page, DOCTOR, {}),
    ('POST', '/doctor/hours', my_hours_submit, DOCTOR, {}),
    ('GET', DOCTOR_HOURS, doctor_hours_page, DOCTOR_OR_ADMIN, {}),
    ('POST', DOCTOR_HOURS, doctor_hours_submit, DOCTOR_OR_ADMIN, {}),
    ('GET', STAFF_TIME_OFF, time_off_view, STAFF, {}),
    ('POST', STAFF_TIME_OFF, add_time_off_submit, STAFF, {}),
    ('GET', STAFF_ENTRY, time_off_entry_page, STAFF, {}),
    ('POST', STAFF_ENTRY + '/delete', delete_time_off_submit, STAFF, {}),
    ('GET', DOCTOR_TIME_OFF, time_off_view, DOCTOR, {}),
    ('POST', DOCTOR_TIME_OFF, add_time_off_submit, DOCTOR, {}),
    ('GET', DOCTOR_ENTRY, time_off_entry_page, DOCTOR, {}),
    ('POST', DOCTOR_ENTRY + '/delete', delete_time_off_submit, DOCTOR, {}),
]
