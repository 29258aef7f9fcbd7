"""Jinja2 with autoescaping on (bottle.jinja2_template does not escape)."""
import datetime
from urllib.parse import unquote
from pathlib import Path

import bottle

from app.templating import environment

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC_DIR = ROOT / 'static'


def _nice_date(value):
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value)
    return f'{value:%a} {value.day} {value:%b %Y}'


def _status_label(value):
    return {'no_show': 'no-show'}.get(value, value)


environment.filters['nice_date'] = _nice_date
environment.filters['status_label'] = _status_label


def render(name, **context):
    from app.web import base
    request = bottle.request
    try:
        session = base.current_session()
        flash = unquote(request.get_cookie('flash') or '')
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
