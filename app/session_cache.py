"""Sessions read by GET requests, remembered for a moment.

Looking a session up costs more than everything else a cached read does
(building the joined query is most of it), and an admin's dashboard polls.
So a GET may reuse the session this process read less than RECHECK_SECONDS
ago; its expiry is still checked on every use. What is remembered is the
immutable auth.LiveSession, so requests can share it.

A remembered session is read again ahead of time (after REFRESH_SECONDS, or
when its last-seen time is due to move, auth.LAST_SEEN_STEP) by one request
only: the others keep using the copy until RECHECK_SECONDS, so the threads
of a busy process do not all stop for the same read at once, and the
last-seen write is one per session, not one per waiting request.

What a stale entry could mean, and why it stays small:
- A request that changes something (POST, PUT, ...) always reads the session
  afresh and drops the remembered copy, so a user's next page shows their
  own change, and logging out here takes effect at once.
- Deactivating a user drops every copy of their sessions here (drop_user),
  so this process refuses them at once.
- Another web process may accept a GET with a session logged out (or a user
  deactivated) elsewhere for at most RECHECK_SECONDS.
"""
import threading
import time

from app import auth
from app.single_flight import SingleFlight
from app.db import database
from app.models import PendingLogin, Session, utcnow

RECHECK_SECONDS = 2.0
REFRESH_SECONDS = 1.5
MAX_ENTRIES = 10_000
READS = ('GET', 'HEAD')

_entries = {}  # token -> (LiveSession, refresh_at, checked_until)
_refreshing = SingleFlight()  # tokens one request is reading again
_lock = threading.Lock()
# Bumped by drop_user: a read that started before it may have seen the user
# still active, so its answer is used once but not remembered.
_generation = 0


def lookup(token, method, now=None, idle=auth.SESSION_IDLE, max_age=auth.SESSION_MAX_AGE,
           clock=time.monotonic):
    """The live session for `token`, as auth.session_for_token answers at
    `now` (naive UTC, the app's clock) with these timeouts."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    if method not in READS:
        drop(token)
        return auth.session_for_token(token, now, idle, max_age)
    session = remembered(token, now, clock)
    if session is not None:
        return session
    entry = _entries.get(token)
    if entry is not None and entry[0].expires_at > now and clock() < entry[2]:
        with _refreshing.claim(token) as mine:
            if not mine:
                return entry[0]  # another request is reading it again
            return _read(token, now, idle, max_age, clock)
    return _read(token, now, idle, max_age, clock)


def remembered(token, now, clock=time.monotonic):
    """The session for `token` when this process remembers it and may use it
    at `now` without reading it: not ended, and no refresh or last-seen write
    due. Else None, and lookup() is the way (app.web.from_memory)."""
    entry = _entries.get(token)
    if entry is not None and clock() < entry[1] and entry[0].fresh_at(now):
        return entry[0]
    return None


def _read(token, now, idle, max_age, clock):
    generation = _generation
    session = auth.session_for_token(token, now, idle, max_age)
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        if session is None or generation != _generation:
            _entries.pop(token, None)
        else:
            at = clock()
            _entries[token] = (session, at + REFRESH_SECONDS, at + RECHECK_SECONDS)
    return session


def drop(token):
    if token:
        with _lock:
            _entries.pop(token, None)


def drop_user(user_id):
    """Forget every session of this user (a scan: deactivating is rare)."""
    global _generation
    with _lock:
        _generation += 1
        for token in [t for t, (session, *_) in _entries.items() if session.user.id == user_id]:
            del _entries[token]


def end_pending_logins(user_id):
    """Logins of this user that gave the password and wait for a two-factor
    code are sessions in the making: what ends the sessions ends them too,
    or a code would still open one after the password changed."""
    PendingLogin.delete().where(PendingLogin.user == user_id).execute()


def end_user_sessions(user_id):
    """End every session of a user (password set, account deactivated): the
    rows go in the caller's transaction, this process's copies right after
    its commit, so a read racing it cannot remember the user again."""
    _end_sessions(user_id)


def end_other_sessions(user_id, keep_token_hash):
    """End every session of a user but the one with `keep_token_hash` (the
    caller's own); as end_user_sessions. Returns how many ended."""
    return _end_sessions(user_id, Session.token_hash != keep_token_hash)


def _end_sessions(user_id, *only_where):
    ended = Session.delete().where(Session.user == user_id, *only_where).execute()
    end_pending_logins(user_id)
    database.after_commit(lambda: drop_user(user_id))
    return ended
