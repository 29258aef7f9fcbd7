"""What every HTML page and form shares. Forms post to page routes; a success
redirects (POST-redirect-GET) with a flash message, a failure re-renders the
form with the error next to the field that caused it."""
import datetime
import logging
from urllib.parse import quote, urlencode

import bottle

from app import validate
from app.errors import bad_request
from app.web.base import clock, query_params, settings
from app.web.templating import render

log = logging.getLogger('clinicdesk.pages')

HOME = {'patient': '/patient', 'doctor': '/doctor', 'admin': '/admin', 'reception': '/reception'}
# Statuses a form shows next to its fields; any other error gets the error page.
FORM_STATUSES = (400, 401, 409, 429)


def home_for(user):
    return HOME.get(user.role, '/login') if user else '/login'


def flash(message):
    """Shown once on the next page (templating reads and clears the cookie)."""
    bottle.response.set_cookie('flash', quote(message, safe=''), path='/', max_age=60,
                               httponly=True, samesite='lax',
                               secure=settings().secure_cookies)


def redirect_with(url, message):
    flash(message)
    bottle.redirect(url)


def safe_next(raw):
    """`next` only when it is a path on this site (no open redirect)."""
    if not raw or not raw.startswith('/') or raw.startswith('//') or '\\' in raw:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw) or len(raw) > 2000:
        return None
    return raw


def form_value(name, default=''):
    """One posted field as text, `default` when it was not sent. Bytes that
    are not UTF-8 are a 400 naming the field: Bottle's getunicode would
    answer the default, as if an optional field had been left blank."""
    forms = bottle.request.forms
    if name not in forms:
        return default
    value = forms.getunicode(name)
    if value is None:
        raise bad_request(name, 'is not valid UTF-8 text')
    return value


def form(*fields):
    return {name: form_value(name) for name in fields}


def checkbox(name):
    """A ticked box posts 'on', an unticked one nothing; anything else is
    a forged form, refused rather than read as either."""
    value = form_value(name, None)
    if value not in (None, 'on'):
        raise bad_request(name, 'must be ticked or left unticked')
    return value == 'on'


def field_errors(exc):
    """{field: message} from an ApiError (every field validate.each found
    wrong); '' holds an error without a field."""
    if exc.fields:
        return dict(exc.fields)
    message = exc.message
    if exc.field and message.startswith(exc.field + ': '):
        message = message[len(exc.field) + 2:]
    return {exc.field or '': message}


def page(template, **context):
    # Medical details: keep them out of shared caches and the back-forward cache.
    bottle.response.set_header('Cache-Control', 'no-store')
    context.setdefault('errors', {})
    context.setdefault('form', {})
    return render(template, today=clock().today(), url_with=url_with, **context)


def _until_words(exc):
    """A wait on a page also says when it ends by the clinic's clock:
    '... try again in 4 minutes (at 14:05)'."""
    ends = clock().now() + datetime.timedelta(seconds=int(exc.headers['Retry-After']))
    return f' (at {ends:%H:%M})'


def form_failure(exc, template, context):
    if exc.status not in FORM_STATUSES:
        raise exc
    bottle.response.status = exc.status
    for name, value in exc.headers.items():
        bottle.response.set_header(name, value)
    errors = field_errors(exc)
    if exc.status == 429 and 'Retry-After' in exc.headers:
        errors = {name: message + _until_words(exc) for name, message in errors.items()}
    context['errors'] = {**context.get('errors', {}), **errors}
    return page(template, **context)


def section(provide, *args):
    """provide(*args): the context of one section of a page. Its data source
    being down (e.g. the cache) must not take the whole page with it; its
    partial renders without the data."""
    try:
        return provide(*args) or {}
    except Exception:
        log.exception('page section %s failed', provide.__name__)
        return {}


def url_with(anchor='', **changes):
    """The current URL's query with `changes` applied (None/'' removes a key)."""
    params = {**query_params(), **changes}
    kept = {k: v for k, v in params.items() if v not in (None, '', 0)}
    query = urlencode(kept)
    return bottle.request.path + ('?' + query if query else '') + anchor


def pager(total, limit, offset, param, anchor):
    return {'first': offset + 1 if total else 0, 'last': min(offset + limit, total),
            'total': total,
            'prev': url_with(anchor, **{param: max(offset - limit, 0)}) if offset > 0 else None,
            'next': url_with(anchor, **{param: offset + limit}) if offset + limit < total
            else None}


def offset_param(params, name):
    return validate.integer(params, name, required=False, low=0, high=10 ** 9) or 0
