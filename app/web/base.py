"""What every view shares: the settings and clock of the app, the current
session and user, the client's address, JSON in and out, paging. The rules
every route runs under are in app.web.access."""
import json

import bottle

from app import auth, session_cache
from app.errors import ApiError
from app.models import User

MAX_JSON_BYTES = 64 * 1024
UNSAFE_METHODS = ('POST', 'PUT', 'PATCH', 'DELETE')


def settings():
    return bottle.request.app.config['clinicdesk.settings']


def clock():
    return bottle.request.app.config['clinicdesk.clock']


def session_token(environ):
    """The session cookie's value. Read straight from the header: Bottle's
    full cookie parse (http.cookies) costs more than the rest of a cached
    read (SPEC P4), and our token is URL-safe so needs no unquoting."""
    prefix = auth.SESSION_COOKIE + '='
    for part in environ.get('HTTP_COOKIE', '').split(';'):
        part = part.strip()
        if part.startswith(prefix):
            return part[len(prefix):].strip('"')
    return None


def current_session():
    environ = bottle.request.environ
    if 'clinicdesk.session' not in environ:
        config = settings()
        environ['clinicdesk.session'] = session_cache.lookup(
            session_token(environ), environ['REQUEST_METHOD'], clock().utcnow(),
            config.session_idle, config.session_max_age)
    return environ['clinicdesk.session']


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
    limit, offset = 100, 0
    for field in ('limit', 'offset'):
        raw = params.get(field)
        if raw in (None, ''):
            continue
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            raise ApiError(400, f'{field}: must be a whole number ≥ 0', field=field)
        if field == 'limit':
            limit = max(1, min(int(raw), 1000))
        else:
            offset = int(raw)
    return limit, offset


def page_of(items, total, limit, offset, **extra):
    return {'items': items, 'total': total, 'limit': limit, 'offset': offset, **extra}
