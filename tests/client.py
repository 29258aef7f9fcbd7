"""A small HTTP client for tests: cookies, JSON, the CSRF header."""
import http.cookiejar
import json
import urllib.error
import urllib.request


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode('utf-8'))

    @property
    def text(self):
        return self.body.decode('utf-8')

    def __repr__(self):
        return f'<Response {self.status} {self.body[:200]!r}>'


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())
        self.csrf_token = None
        self.user = None

    def request(self, method, path, json_body=None, data=None, headers=None, csrf=True):
        headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode('utf-8')
            headers.setdefault('Content-Type', 'application/json')
        elif isinstance(data, str):
            data = data.encode('utf-8')
        if csrf and self.csrf_token and method not in ('GET', 'HEAD'):
            headers.setdefault('X-CSRF-Token', self.csrf_token)
        if method not in ('GET', 'HEAD'):
            # As a browser does on every POST; None leaves it out.
            headers.setdefault('Origin', self.base_url)
        headers = {name: value for name, value in headers.items() if value is not None}
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=headers)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, err.headers, err.read())

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, json_body=None, **kw):
        if json_body is None and 'data' not in kw:
            json_body = {}
        return self.request('POST', path, json_body=json_body, **kw)

    def put(self, path, json_body=None, **kw):
        return self.request('PUT', path, json_body=json_body, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)

    def login(self, email, password):
        resp = self.post('/api/login', {'email': email, 'password': password})
        assert resp.status == 200, resp
        self.csrf_token = resp.json['csrf_token']
        self.user = resp.json['user']
        return self

    def cookie(self, name):
        for cookie in self.cookies:
            if cookie.name == name:
                return cookie
        return None
