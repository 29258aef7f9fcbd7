"""Login CSRF (SPEC §10): logging in and registering must not be forgeable
from another site, or a victim ends up signed in as the attacker.

These posts come before any session, so there is no session token to check
(access.py's CSRF rule for everything else). We check where the post comes
from instead of adding a second token tied to a pre-session cookie: every
browser we support sends Origin on a POST (and our Referrer-Policy
same-origin keeps Referer for our own pages), the check needs no state, no
extra cookie and no change to the forms, and it cannot go stale in a tab
left open overnight the way a pre-session token would.

- Origin present: it must be this site (the request's own scheme and host,
  or BASE_URL's); "null" (sandboxed frames, some redirects) is refused.
- No Origin, Referer present: the same test on the Referer.
- Neither: only a JSON body passes. A cross-site page cannot send
  Content-Type application/json without a CORS preflight, which we never
  answer, so such a request comes from an API client, not a forged form.
"""
from urllib.parse import urlsplit

from app.web.base import settings

JSON = 'application/json'


def _origin_of(url):
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        return None
    return f'{parts.scheme}://{parts.netloc}'.lower()


def _this_site(request):
    scheme = request.environ.get('wsgi.url_scheme', 'http')
    host = request.environ.get('HTTP_HOST', '')
    return {f'{scheme}://{host}'.lower(), _origin_of(settings().base_url)}


def from_this_site(request):
    """True when this unsafe request may be a login or a registration."""
    origin = request.get_header('Origin')
    if origin is None:
        referer = request.get_header('Referer')
        if referer is None:
            content_type = (request.content_type or '').split(';')[0].strip().lower()
            return content_type == JSON
        origin = referer
    return _origin_of(origin.strip()) in _this_site(request)
