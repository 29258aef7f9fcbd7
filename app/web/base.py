"""What every view shares: the settings and clock of the app, the current
session and user, the client's address, JSON in and out, paging. The rules
every route runs under are in app.web.access."""
import json

import bottle

from app import auth, session_cache, validate
from app.errors import ApiError
from app.models import User

MAX_JSON_BYTES = 64 * 1024
UNSAFE_METHODS = ('POST', 'PUT', 'PATCH', 'DELETE')


def settings():
    return bottle.request.app.config['clinicdesk.settings']


def clock():
    return bottle.request.app.config['clinicdesk.clock']


# More than this many cookies of one name in one request are not looked at.
MAX_SAME_NAME_COOKIES = 4


def cookie_values(environ, name):
    """Every value of cookie `name` the request carries, in order, read
    straight from the header: the one way the app reads a cookie.
    http.cookies drops every cookie after one it cannot parse (a consent
    banner's JSON), and its full parse costs more than the rest of a cached
    read (SPEC P4). Our values are URL-safe so need no unquoting."""
    prefix = name + '='
    values = []
    for part in environ.get('HTTP_COOKIE', '').split(';'):
        part = part.strip()
        if part.startswith(prefix) and len(values) < MAX_SAME_NAME_COOKIES:
            values.append(part[len(prefix):].strip('"'))
    return values


def session_tokens(environ):
    return cookie_values(environ, auth.SESSION_COOKIE)


def session_token(environ):
    """The first session cookie the request carries, or None."""
    return next(iter(session_tokens(environ)), None)


def cookie(name):
    """The first value of cookie `name` in the current request, or None."""
    return next(iter(cookie_values(bottle.request.environ, name)), None)


def current_session():
    """The first live session among the request's session cookies: a stale
    duplicate (another path or domain) must not hide the live one."""
    environ = bottle.request.environ
    if 'clinicdesk.session' not in environ:
        session = None
        for token in session_tokens(environ):
            session = _live_session(token, environ['REQUEST_METHOD'])
            if session is not None:
                break
        environ['clinicdesk.session'] = session
    return environ['clinicdesk.session']


def _live_session(token, method):
    config = settings()
    return session_cache.lookup(token, method, clock().utcnow(), config.session_idle,
                                config.session_max_age)


def own_session_tokens():
    """The request's session tokens that belong to the signed-in user, the
    ones a logout ends; another account's token it may carry is left alone."""
    user = current_user()
    if user is None:
        return []
    tokens = []
    for token in session_tokens(bottle.request.environ):
        session = _live_session(token, 'POST')  # not from the cache: it is about to end
        if session is not None and session.user.id == user.id:
            tokens.append(token)
    return tokens


def session_start():
    """How a session started by this request begins (auth.SessionStart)."""
    return auth.SessionStart(now=clock().utcnow(), max_age=settings().session_max_age,
                             client_address=client_ip(),
                             user_agent=bottle.request.get_header('User-Agent'))


def current_user():
    """The logged-in auth.SignedInUser (a read-only value), or None."""
    session = current_session()
    return session.user if session else None


def current_user_row():
    """The logged-in user's User row, for a view that writes to the account."""
    return User.get_by_id(current_user().id)


def client_ip():
    """The client's address, the one place throttling, sessions and the
    audit trail read it: the peer, or the forwarded client when the peer is
    TRUSTED_PROXY (Waitress rewrites REMOTE_ADDR then; app.web.server)."""
    return bottle.request.environ.get('REMOTE_ADDR') or '-'


def is_api_path(path):
    return path.startswith('/api/') or path == '/healthz'


def json_response(data, status=200, headers=None):
    """Write JSON into the current response (keeping any cookies set on it)
    and return the body."""
    response = bottle.response
    response.status = status
    response.content_type = 'application/json; charset=utf-8'
    response.set_header('Cache-Control', 'no-store')
    for name, value in (headers or {}).items():
        response.set_header(name, value)
    return json.dumps(data, ensure_ascii=False, default=str)


def error_response(status, message, extra=None):
    return json_response({'error': message, **(extra or {})}, status=status)


def json_body():
    """The request body as a JSON object, or ApiError 400/413/415."""
    request = bottle.request
    length = request.content_length
    if length > MAX_JSON_BYTES:
        raise ApiError(413, f'body: larger than {MAX_JSON_BYTES // 1024} KB')
    raw = request.body.read(MAX_JSON_BYTES + 1) if length else b''
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, f'body: larger than {MAX_JSON_BYTES // 1024} KB')
    if not raw.strip():
        return {}
    content_type = (request.content_type or '').split(';')[0].strip().lower()
    if content_type and content_type != 'application/json':
        raise ApiError(415, 'body: send JSON with Content-Type: application/json')
    try:
        data = json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, 'body: not valid JSON')
    except RecursionError:
        # '[[[[…' thousands deep: the parser gives up before we would.
        raise ApiError(400, 'body: JSON nested too deeply')
    if not isinstance(data, dict):
        raise ApiError(400, 'body: expected a JSON object')
    return data


def query_params():
    """The query string as a plain dict (last value wins). A value that is
    not UTF-8 is a 400 naming it (getunicode would quietly answer None)."""
    query, params = bottle.request.query, {}
    for key in query.keys():
        value = query.getunicode(key)
        if value is None:
            name = key if key.isascii() else 'query'
            raise ApiError(400, f'{name}: not valid UTF-8', field=name)
        params[key] = value
    return params


def paging(params=None):
    params = query_params() if params is None else params
    limit = validate.integer(params, 'limit', required=False, low=0, high=10 ** 9)
    offset = validate.integer(params, 'offset', required=False, low=0, high=10 ** 9)
    return (100 if limit is None else max(1, min(limit, 1000))), offset or 0


def page_of(items, total, limit, offset, **extra):
    return {'items': items, 'total': total, 'limit': limit, 'offset': offset, **extra}
