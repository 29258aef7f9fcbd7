"""GET /api/admin/stats is answered before routing when the admin's session
is remembered and the figures are cached (app.web.from_memory, SPEC §7 P4).
Answered that way it must be the same answer, and the route's rules must
hold all the same: another role, an enrolment STAFF_2FA=required still
waits for, a logout and a timed-out session are refused as before."""
import pytest
from playhouse.test_utils import count_queries

from tests.calendar_site import reception
from tests.conftest import create_user

STATS = '/api/admin/stats'
ENDED = {'error': 'your session has ended; log in again'}
REFUSED = {'error': 'your account cannot do this'}


def answer(resp):
    """What a client sees of an answer, but the time it was sent."""
    headers = sorted((name.lower(), value) for name, value in resp.headers.items()
                     if name.lower() != 'date')
    return resp.status, headers, resp.body


def warm(client):
    """Read the stats until they are cached and this session remembered."""
    assert client.get(STATS).status == 200
    assert client.get(STATS).headers['X-Cache'] == 'HIT'


def test_the_answer_from_memory_is_the_routed_answer(admin, make_user, base_url):
    other = make_user(base_url, 'admin')
    warm(admin)  # the figures are cached
    with count_queries() as routed:
        first = other.get(STATS)  # a session not yet remembered: read, through Bottle
    with count_queries() as remembered:
        second = other.get(STATS)
    assert routed.count >= 1 and remembered.count == 0
    assert first.status == 200 and first.headers['X-Cache'] == 'HIT'
    assert answer(second) == answer(first)
    assert second.headers['X-Frame-Options'] == 'DENY'
    assert second.headers['Cache-Control'] == 'no-store'


@pytest.mark.parametrize('role', ['patient', 'doctor', 'reception'])
def test_a_remembered_session_of_another_role_is_still_refused(admin, make_user, base_url, role):
    client = reception(base_url) if role == 'reception' else make_user(base_url, role)
    warm(admin)
    assert client.get('/api/me').status == 200
    assert client.get('/api/me').status == 200  # remembered now
    for _ in range(3):
        resp = client.get(STATS)
        assert resp.status == 403 and resp.json == REFUSED, resp


def test_a_remembered_admin_who_must_enrol_is_still_sent_to_enrol(admin, required_2fa_url):
    waiting = create_user(required_2fa_url, 'admin')
    warm(admin)
    assert waiting.get('/api/me').status == 200  # open before enrolment
    assert waiting.get('/api/me').status == 200  # remembered now
    for _ in range(3):
        resp = waiting.get(STATS)
        assert resp.status == 403 and resp.json['enrol_2fa'] is True, resp


def test_a_remembered_session_that_timed_out_or_logged_out_is_refused(clocked_site):
    site = clocked_site
    client = site.login(site.user('admin'))
    warm(client)
    site.set_time(minutes=31)  # idle longer than SESSION_IDLE_MINUTES
    resp = client.get(STATS)
    assert resp.status == 401 and resp.json == ENDED, resp

    client = site.login(site.user('admin'))
    warm(client)
    assert client.post('/api/logout').status == 200
    resp = client.get(STATS)
    assert resp.status == 401, resp
