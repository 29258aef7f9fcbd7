"""GET requests may reuse a session read a moment ago (app.session_cache);
logging out and a user's own changes still show at once."""
import dataclasses

import pytest
from playhouse.test_utils import count_queries

from app import auth, session_cache
from app.db import database
from app.models import Session


def test_logging_out_takes_effect_at_once(patient):
    assert patient.get('/api/me').status == 200
    assert patient.get('/api/me').status == 200  # now remembered
    assert patient.post('/api/logout').status == 200
    assert patient.get('/api/me').status == 401
    assert patient.get('/patient').status in (302, 303)


def test_a_users_own_change_shows_on_their_next_read(patient):
    assert patient.get('/api/me').json['user']['reminders_enabled'] is True
    assert patient.put('/api/me/reminders', {'enabled': False}).status == 200
    assert patient.get('/api/me').json['user']['reminders_enabled'] is False


def test_a_session_ended_elsewhere_is_refused_after_the_recheck_interval(patient):
    token = patient.cookie(auth.SESSION_COOKIE).value
    now = [1000.0]
    with database.connection_context():
        assert session_cache.lookup(token, 'GET', clock=lambda: now[0]) is not None
        # Another web process logs the session out: only the database knows.
        Session.delete().where(Session.token_hash == auth._token_hash(token)).execute()
        now[0] += session_cache.RECHECK_SECONDS / 2
        assert session_cache.lookup(token, 'GET', clock=lambda: now[0]) is not None
        now[0] += session_cache.RECHECK_SECONDS
        assert session_cache.lookup(token, 'GET', clock=lambda: now[0]) is None
        assert session_cache.lookup(token, 'POST') is None


def test_one_request_cannot_change_the_user_another_request_sees(patient):
    token = patient.cookie(auth.SESSION_COOKIE).value
    with database.connection_context():
        first = session_cache.lookup(token, 'GET')
        with pytest.raises(dataclasses.FrozenInstanceError):
            first.user.name = 'changed by one request'
        second = session_cache.lookup(token, 'GET')
    assert second.user.name != 'changed by one request'
    assert second.csrf_token == first.csrf_token


def test_while_one_request_reads_a_session_again_the_others_keep_their_copy(patient):
    token = patient.cookie(auth.SESSION_COOKIE).value
    now = [1000.0]
    with database.connection_context():
        assert session_cache.lookup(token, 'GET', clock=lambda: now[0]) is not None
        now[0] += session_cache.REFRESH_SECONDS
        with session_cache._refreshing.claim(token) as mine:
            assert mine  # another request is reading it again
            with count_queries() as waiting:
                assert session_cache.lookup(token, 'GET', clock=lambda: now[0]) is not None
            assert waiting.count == 0
            # Past the recheck time nobody is served the copy, read or not.
            Session.delete().where(Session.token_hash == auth._token_hash(token)).execute()
            now[0] += session_cache.RECHECK_SECONDS
            assert session_cache.lookup(token, 'GET', clock=lambda: now[0]) is None
