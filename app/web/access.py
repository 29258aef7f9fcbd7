"""The plugin every route runs through: login, role and CSRF rules before
the view, and one way out for what goes wrong: an ApiError (or the queue
being down) becomes JSON under /api and an error page elsewhere; anything
else is logged by route rule and answers 500 the same way. Bottle's own
errors (404, 405, 413) and whatever escapes a route, a hook or the error
path itself take the same way out (ClinicBottle), with the security headers."""
import json
import logging
import sys
import traceback
from urllib.parse import quote

import bottle

from app import auth
from app.errors import ApiError, QueueUnavailable
from app.redis_errors import unreachable
from app.services import two_factor
from app.web.base import (UNSAFE_METHODS, current_session, current_user, error_response,
                          is_api_path, json_response, session_token, settings)
from app.web.forms import flash
from app.web.same_origin import from_this_site
from app.web.templating import render
from app.web.two_factor import ACCOUNT_PAGE

log = logging.getLogger('clinicdesk.web')

SESSION_ENDED = ('Your session ended (after a while without activity, or signed out from '
                 'elsewhere). Log in again to continue where you were.')
SECURITY_HEADERS = {'X-Content-Type-Options': ['nosniff'], 'X-Frame-Options': ['DENY'],
                    'Referrer-Policy': ['same-origin']}
BOTTLE_MESSAGES = {404: ('not found', 'Page not found.'),
                   405: ('method not allowed', 'Method not allowed.'),
                   413: ('body: larger than 1 MB', 'What was sent is larger than 1 MB.')}
LAST_RESORT_PAGE = (b'<!doctype html><title>Error</title>'
                    b'<h1>Something went wrong</h1><p>It has been logged.</p>')


def body_bytes(body):
    """A text body as UTF-8. A lone surrogate (sent as "\\ud800" in JSON and
    echoed in a message) cannot be encoded; it is written as the escape it
    came as, which is still valid JSON, instead of failing the response."""
    return body.encode('utf-8', 'backslashreplace') if isinstance(body, str) else body


class ClinicBottle(bottle.Bottle):
    """Bottle whose last resort is ours: an exception that escapes Bottle
    (a hook, the error path itself, a body that cannot be encoded) answers
    500 in our JSON or page shape with the security headers, instead of
    Bottle's "Critical error" page without them. It also gives the answers
    some GET routes can take from memory before routing (app.web.from_memory)."""

    def __init__(self):
        super().__init__()
        self.config['catchall'] = False
        self.default_error_handler = bottle_error
        self.add_hook('before_request', refuse_undecodable_path)
        # path -> what answers a GET of it from memory (app.web.from_memory)
        self.from_memory = {}

    def wsgi(self, environ, start_response):
        try:
            answer = self.from_memory.get(environ.get('PATH_INFO'))
            if answer is not None and environ['REQUEST_METHOD'] == 'GET':
                found = answer(environ)
                if found is not None:
                    start_response('200 OK', found[0])
                    return [found[1]]
            return super().wsgi(environ, start_response)
        except Exception:
            route = environ.get('bottle.route')
            log.error('unhandled error on %s %s\n%s', environ.get('REQUEST_METHOD'),
                      route.rule if route else '(no route)', traceback.format_exc())
            status, headers, body = last_resort(environ)
            start_response(status, headers, sys.exc_info())
            return [body]


def refuse_undecodable_path():
    """Bottle drops bytes of a path that are not UTF-8, so '/x/1%ED%A0%80'
    would be '/x/1' under a second name; no page has such a name (404)."""
    raw = bottle.request.environ['bottle.raw_path']
    if raw.isascii():
        return
    try:
        raw.encode('latin1').decode('utf-8')
    except UnicodeError:
        raise bottle.HTTPError(404, 'not found')


def bottle_error(error):
    """Bottle's own errors (no route, wrong method, body too large) and
    HTTPErrors in our one shape."""
    status = error.status_code
    default = (error.body if isinstance(error.body, str) and error.body else 'error',
               'Something went wrong.')
    api_message, page_message = BOTTLE_MESSAGES.get(status, default)
    return failure(is_api_path(bottle.request.path), status, api_message, page_message)


def failure(api, status, message, page_message=None, extra=None):
    if api:
        return body_bytes(error_response(status, message, extra))
    bottle.response.status = status
    return body_bytes(render('error.html', status=status, message=page_message or message))


def last_resort(environ):
    """(status line, headers, body) when even the error path failed:
    built without templates or the database."""
    path = environ.get('PATH_INFO', '')
    if is_api_path(path):
        content_type = 'application/json; charset=utf-8'
        body = json.dumps({'error': 'internal error; it has been logged'}).encode()
    else:
        content_type, body = 'text/html; charset=utf-8', LAST_RESORT_PAGE
    headers = [('Content-Type', content_type), ('Content-Length', str(len(body))),
               ('Cache-Control', 'no-store')]
    headers += [(name, values[0]) for name, values in SECURITY_HEADERS.items()]
    return '500 Internal Server Error', headers, body


def role_allows(roles, user):
    """Whether a route's roles (not None) let this signed-in user in."""
    return roles == 'user' or user.role in roles


def enrolment_checked(route):
    """Whether STAFF_2FA=required keeps this route from staff who have not
    enrolled a second factor yet; decided when the app is built, as its
    settings do not change."""
    return (route.config.get('roles') is not None and not route.config.get('enrolment', False)
            and route.app.config['clinicdesk.settings'].staff_2fa == 'required')


class ClinicPlugin:
    """Route options it reads: roles=(...) who may call it (None: anyone,
    'user': anyone logged in), csrf=False to exempt an unsafe route,
    enrolment=True to open it to staff that STAFF_2FA=required still makes
    enrol a second factor (everything else sends them to enrol),
    csrf='origin' for the posts that come before a session (log in,
    register): app.web.same_origin instead of the session's token."""
    name = 'clinicdesk'
    api = 2

    def apply(self, callback, route):
        roles = route.config.get('roles')
        csrf = route.config.get('csrf', True)
        check_enrolled = enrolment_checked(route)
        api = is_api_path(route.rule)

        def wrapper(*args, **kwargs):
            try:
                self._check_access(roles, csrf, api)
                if check_enrolled:
                    self._check_enrolled(api)
                if kwargs and any(isinstance(v, int) and not 0 < v < 2**31
                                  for v in kwargs.values()):
                    raise ApiError(404, 'not found')  # no such id can exist
                result = callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except ApiError as exc:
                return self._failure(api, exc.status, exc.message, exc.extra, exc.headers)
            except unreachable():
                error = QueueUnavailable()
                return self._failure(api, error.status, error.message)
            except Exception:
                # The route's rule, not the path: paths can carry ids and
                # signed tokens that do not belong in a log.
                log.error('unhandled error on %s %s\n%s', bottle.request.method,
                          route.rule, traceback.format_exc())
                return self._failure(api, 500, 'internal error; it has been logged')
            if api and isinstance(result, (dict, list)):
                return body_bytes(json_response(result))
            return body_bytes(result)
        return wrapper

    def _check_access(self, roles, csrf, api):
        request = bottle.request
        if roles is not None:
            user = current_user()
            if user is None:
                # A cookie without a live session: it timed out or was ended.
                ended = session_token(request.environ) is not None
                if ended:
                    bottle.response.delete_cookie(auth.SESSION_COOKIE, path='/')
                if not api and request.method == 'GET':
                    target = request.fullpath + (
                        '?' + request.query_string if request.query_string else '')
                    if ended:
                        flash(SESSION_ENDED)
                    raise bottle.redirect('/login?next=' + quote(target, safe=''))
                raise ApiError(401, 'your session has ended; log in again' if ended
                               else 'not logged in')
            if not role_allows(roles, user):
                raise ApiError(403, 'your account cannot do this')
        if not csrf or request.environ['REQUEST_METHOD'].upper() not in UNSAFE_METHODS:
            return
        if csrf == 'origin':
            if not from_this_site(request):
                raise ApiError(403, 'this form was sent from another site; '
                                    'open the page on this site and try again')
        else:
            supplied = (request.get_header('X-CSRF-Token')
                        or (request.forms.get('csrf_token') if not api else None))
            session = current_session()
            if session is None and roles is not None:
                raise ApiError(401, 'not logged in')
            if session is not None and not auth.csrf_ok(session, supplied):
                raise ApiError(403, 'missing or wrong CSRF token')

    def _check_enrolled(self, api):
        if not two_factor.must_enrol(settings(), current_session()):
            return
        if not api and bottle.request.method == 'GET':
            raise bottle.redirect(ACCOUNT_PAGE)
        raise ApiError(403, 'turn on two-factor sign-in first (STAFF_2FA=required)',
                       extra={'enrol_2fa': True})

    def _failure(self, api, status, message, extra=None, headers=None):
        for name, value in (headers or {}).items():
            bottle.response.set_header(name, value)
        return failure(api, status, message, extra=extra)
