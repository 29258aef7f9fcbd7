"""An appointment's reminders as JSON (its patient, reception, admins), and
the page a reminder's Confirm, Cancel and Reschedule links open: /r/<token>,
no login, made for a phone.

The signed token is the authority for its one action, so the forms carry no
session CSRF token; a POST must also come from our own pages (the login
forms' same-origin rule), so another site cannot make a patient's browser act."""
import bottle

import tasks
from app.errors import ApiError
from app.services import appointments, reminder_history, reminder_links
from app.web import same_origin
from app.web.base import client_ip, clock, current_user, settings
from app.web.forms import form, page
from app.web.templating import nice_date

LINK = '/r/<token>'


def appointment_reminders(appointment_id):
    appt = appointments.get_for(current_user(), appointment_id)
    return reminder_history.of_appointment(appt.id)


def _tokens(appt, link):
    starts = appointments.starts_at(settings(), appt)
    return {purpose: reminder_links.token(settings(), purpose, appt.id, link.patient_id, starts)
            for purpose in reminder_links.PURPOSES}


def _page(status=200, **context):
    bottle.response.status = status
    context.setdefault('clinic_phone', settings().clinic_phone)
    context.setdefault('clinic_address', settings().clinic_address)
    return page('reminder_link.html', status=status, **context)


def _refusal(exc):
    return _page(exc.status, failure=exc.message)


def _open(token):
    link = reminder_links.parse(settings(), token)
    return link, reminder_links.appointment_for(settings(), clock(), link)


def _shown(link, appt, **extra):
    slots = []
    if link.purpose == 'reschedule' and appt.status == 'booked':
        slots = reminder_links.next_free(settings(), clock(), appt)
    return _page(extra.pop('status', 200), appt=appt, day_text=nice_date(appt.date),
                 tokens=_tokens(appt, link), purpose=link.purpose, slots=slots, **extra)


def link_page(token):
    try:
        link, appt = _open(token)
    except ApiError as exc:
        return _refusal(exc)
    return _shown(link, appt)


def _act(link, appt):
    """Do what the link is for; the flash-like sentence for the page."""
    if link.purpose == 'confirm':
        reminder_links.confirm(clock(), appt, client_ip())
        return 'Thank you: your appointment is confirmed. See you then.'
    if link.purpose == 'cancel':
        reminder_links.cancel(settings(), clock(), appt, client_ip())
        return 'Your appointment is cancelled. The time is free for someone else now.'
    data = form('date', 'time')
    moved = reminder_links.reschedule(settings(), clock(), appt, data['date'], data['time'],
                                      client_ip())
    tasks.queue_delivery()
    return f'Your appointment is moved to {nice_date(moved.date)}, {moved.time}.'


def link_submit(token):
    try:
        link, appt = _open(token)
    except ApiError as exc:
        return _refusal(exc)
    if not same_origin.from_this_site(bottle.request):
        return _page(403, failure='This form was sent from another site. Open the link '
                                  'from your email again.')
    try:
        done = _act(link, appt)
    except ApiError as exc:
        return _shown(link, appt, status=exc.status, failure=exc.message)
    return _shown(link, reminder_links.linked_appointment(link), done=done)


ROUTES = [
    # SPEC §11: the patient (their own: 404 for another's), the desk and
    # admins; a doctor is the wrong role (403), as SPEC §6 has it.
    ('GET', '/api/appointments/<appointment_id:int>/reminders', appointment_reminders,
     ('patient', 'reception', 'admin'), {}),
    ('GET', LINK, link_page, None, {}),
    # The signed token is the authority, with the same-origin rule of app.web.same_origin.
    ('POST', LINK, link_submit, None, {'csrf': False}),
]
