"""A user's own sessions (SPEC §10): the list they see (when it began, when
it was last used, from where) and ending all but the one they are using.
A session is named by an id derived from its stored hash: the list never
carries anything that would open the session."""
import hashlib

from app import auth, session_cache
from app.db import database
from app.models import Session


def public_id(token_hash):
    return hashlib.sha256(f'session:{token_hash}'.encode()).hexdigest()[:16]


def live_for(user_id, now, idle, max_age):
    """The user's sessions that have not ended, last used first."""
    return list(Session.select(Session.token_hash, Session.created_at, Session.last_seen_at,
                               Session.client_address, Session.user_agent)
                .where(Session.user == user_id, auth.not_ended(now, idle, max_age))
                .order_by(Session.last_seen_at.desc(), Session.created_at.desc()))


def end_others(user_id, current_token_hash):
    """End every session of the user but the current one; how many ended."""
    with database.atomic():
        return session_cache.end_other_sessions(user_id, current_token_hash)
