"""The session cookie is read one way (issue 16): other cookies the browser
sends, parseable or not, never hide it, and logout ends the requester's
sessions whatever else comes with it, and always clears the cookie."""
from app.auth import SESSION_COOKIE
from tests.client import Client
from tests.conftest import PASSWORD, create_user


def token_of(client):
    return client.cookie(SESSION_COOKIE).value


def as_header(base_url, cookie, method='GET', path='/api/me', csrf=None):
    headers = {'Cookie': cookie}
    if csrf:
        headers['X-CSRF-Token'] = csrf
    return Client(base_url).request(method, path, headers=headers,
                                    data=b'{}' if method == 'POST' else None)


def test_a_consent_banners_json_cookie_does_not_hide_the_session(base_url, patient):
    token = token_of(patient)
    for junk in ('consent={"a":1,"b":[2]}', 'a="unterminated', 'x=\\"; y', 'bad name=1'):
        resp = as_header(base_url, f'{junk}; {SESSION_COOKIE}={token}')
        assert resp.status == 200, (junk, resp)
        assert resp.json['user']['id'] == patient.user['id']


def test_logout_with_a_consent_cookie_ends_the_session_and_clears_the_cookie(base_url, patient):
    token = token_of(patient)
    resp = as_header(base_url, f'consent={{"a":1}}; {SESSION_COOKIE}={token}', 'POST',
                     '/api/logout', csrf=patient.csrf_token)
    assert resp.status == 200, resp
    assert f'{SESSION_COOKIE}=""' in resp.headers['Set-Cookie'] or 'Max-Age=0' in \
        resp.headers['Set-Cookie']
    assert as_header(base_url, f'{SESSION_COOKIE}={token}').status == 401


def test_a_stale_duplicate_cookie_does_not_hide_the_live_one(base_url, patient):
    cookie = f'{SESSION_COOKIE}=stale-token; {SESSION_COOKIE}={token_of(patient)}'
    resp = as_header(base_url, cookie)
    assert resp.status == 200, resp


def test_logout_ends_every_session_of_the_requester_it_carries_and_no_one_elses(base_url):
    mine_a = create_user(base_url, 'patient')
    mine_b = Client(base_url).login(mine_a.user['email'], PASSWORD)
    other = create_user(base_url, 'patient')
    cookie = '; '.join(f'{SESSION_COOKIE}={token_of(c)}' for c in (mine_a, other, mine_b))
    resp = as_header(base_url, cookie, 'POST', '/api/logout', csrf=mine_a.csrf_token)
    assert resp.status == 200, resp
    assert mine_a.get('/api/me').status == 401
    assert mine_b.get('/api/me').status == 401
    assert other.get('/api/me').status == 200


def test_the_logout_form_clears_the_cookie_even_without_a_live_session(base_url):
    resp = as_header(base_url, f'{SESSION_COOKIE}=ended-long-ago', 'POST', '/logout')
    assert resp.status in (302, 303), resp
    assert SESSION_COOKIE in resp.headers['Set-Cookie']
