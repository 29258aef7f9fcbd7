"""GET answers given from memory, before Bottle routes the request.

A route may give the option from_memory=(body, headers): `body()` returns
the answer's body while a current copy is in memory, else None; `headers`
are that answer's headers (Bottle's name -> [values] form). ClinicBottle
then answers a GET of the route's path itself, without Bottle's request and
response objects, router, hooks or plugin, when all of this holds:

- the request's first session cookie names a session this process remembers
  and may use now without reading it (app.session_cache.remembered);
- the route's rules let that session in (app.web.access): its role, and
  STAFF_2FA=required's enrolment;
- the body is in memory.

Anything else goes through Bottle the usual way, so every refusal, redirect,
session read and last-seen write keeps its one code path; this only ever
says yes. It is there for GET /api/admin/stats, which dashboards poll and
SPEC §7 P4 measures: Bottle's handling of a request costs more than the
cached answer itself.
"""
from app import session_cache
from app.services import two_factor
from app.web.access import SECURITY_HEADERS, body_bytes, enrolment_checked, role_allows
from app.web.base import session_token


class FromMemory:
    """What answers GET `route.rule` from memory: called with the WSGI
    environ, it returns (headers, body bytes) or None."""

    def __init__(self, route, body, headers):
        if route.method != 'GET' or '<' in route.rule or route.config.get('roles') is None:
            raise ValueError(f'{route.method} {route.rule}: only a fixed GET path that needs '
                             'a signed-in user is answered from memory')
        self.roles = route.config['roles']
        self.check_enrolled = enrolment_checked(route)
        self.config = route.app.config  # the clock is read per request, as base.clock()
        self.settings = self.config['clinicdesk.settings']
        self.body = body
        self.headers = [(name, value) for name, values in {**headers, **SECURITY_HEADERS}.items()
                        for value in values]

    def __call__(self, environ):
        token = session_token(environ)
        if token is None:
            return None
        session = session_cache.remembered(token, self.config['clinicdesk.clock'].utcnow())
        if (session is None or not role_allows(self.roles, session.user)
                or self.check_enrolled and two_factor.must_enrol(self.settings, session)):
            return None
        body = self.body()
        if body is None:
            return None
        body = body_bytes(body)
        return self.headers + [('Content-Length', str(len(body)))], body


def install(app):
    """Give each route of `app` that asks for it its answer from memory."""
    for route in app.routes:
        if route.config.get('from_memory'):
            app.from_memory[route.rule] = FromMemory(route, *route.config['from_memory'])
