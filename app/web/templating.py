"""Pages rendered with the one Jinja2 environment (app.templating), the
request's context, and every filter the page templates use. No filter or
global reads the database: a view passes its data in the context."""
import datetime
import re
from urllib.parse import unquote
from pathlib import Path

import bottle

from app.services import audit
from app.templating import environment
from app.web import base

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC_DIR = ROOT / 'static'


def nice_date(value):
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value)
    return f'{value:%a} {value.day} {value:%b %Y}'


def status_label(value):
    return {'no_show': 'no-show'}.get(value, value)


def when(appt):
    """'Mon 23 Nov 2026, 09:30' (appointments are stored in clinic time)."""
    return f'{nice_date(appt.date)}, {appt.time}'


def clinic_datetime(naive_utc):
    """A stored naive-UTC timestamp shown in clinic time."""
    if naive_utc is None:
        return ''
    local = base.clock().localize(naive_utc)
    return f'{nice_date(local.date())}, {local:%H:%M}'


def clinic_time(naive_utc):
    """'09:42': a stored naive-UTC timestamp's clock time in clinic time."""
    return f'{base.clock().localize(naive_utc):%H:%M}' if naive_utc else ''


def relative_day(day, today):
    return {0: 'Today', 1: 'Tomorrow', -1: 'Yesterday'}.get((day - today).days, '')


# First match wins: Edge and Chrome on Android also say "Chrome", Chrome
# also says "Safari".
BROWSERS = (('Edg/', 'Edge'), ('Firefox/', 'Firefox'), ('Chrome/', 'Chrome'),
            ('Safari/', 'Safari'))
SYSTEMS = (('iPhone', 'iPhone'), ('iPad', 'iPad'), ('Android', 'Android'),
           ('Windows', 'Windows'), ('Mac OS X', 'Mac'), ('Linux', 'Linux'))


def device(user_agent):
    """'Chrome on Android' from a User-Agent header; a program's own name
    ('python-requests/2.31') as it is."""
    if not user_agent:
        return 'Unknown browser'
    browser = next((name for mark, name in BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in SYSTEMS if mark in user_agent), None)
    if browser is None:
        return f'A browser on {system}' if system else user_agent.split(' ', 1)[0][:60]
    return f'{browser} on {system}' if system else browser


def error_sentence(message, label):
    """'is required' next to the Email field reads 'Email is required'."""
    if message.split(' ', 1)[0] in ('is', 'must', 'contains', 'may', 'expected'):
        return f'{label} {message}.'.replace('..', '.')
    return message[:1].upper() + message[1:]


def job_label(name):
    return re.sub(r'_+', ' ', name).strip().capitalize()


def status_time(iso, reference):
    """'Today 16:28:21', 'Tomorrow 08:00', 'Mon 1 Dec 07:00': an ISO time of
    the status snapshot, read against the snapshot's own time."""
    if not iso:
        return '—'
    at = datetime.datetime.fromisoformat(iso)
    days = (at.date() - datetime.date.fromisoformat(reference[:10])).days
    if days == 0:
        return f'Today {at:%H:%M:%S}'
    name = {1: 'Tomorrow', -1: 'Yesterday'}.get(days)
    if name:
        return f'{name} {at:%H:%M}'
    return f'{at:%a} {at.day} {at:%b %Y %H:%M}'


environment.filters.update(
    nice_date=nice_date, status_label=status_label, when=when,
    clinic_datetime=clinic_datetime, clinic_time=clinic_time, relative_day=relative_day, error_sentence=error_sentence,
    job_label=job_label, status_time=status_time, audit_action=audit.describe, device=device)


def render(name, **context):
    request = bottle.request
    try:
        session = base.current_session()
        flash = unquote(base.cookie('flash') or '')
        app_settings = base.settings()
    except (KeyError, RuntimeError):
        session, flash, app_settings = None, None, None
    if flash:
        bottle.response.delete_cookie('flash', path='/')
    context.setdefault('user', session.user if session else None)
    context.setdefault('csrf_token', session.csrf_token if session else '')
    context.setdefault('flash', flash)
    context.setdefault('clinic_name', app_settings.clinic_name if app_settings else 'ClinicDesk')
    context.setdefault('path', request.path)
    return environment.get_template(name).render(**context)
