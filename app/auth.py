"""Passwords, server-side sessions and CSRF tokens."""
import base64
import dataclasses
import datetime
import hashlib
import hmac
import secrets

from peewee import fn

from app.models import Session, TwoFactor, User, utcnow

SESSION_COOKIE = 'clinicdesk_session'
# The defaults of SESSION_IDLE_MINUTES and SESSION_MAX_HOURS.
SESSION_IDLE = datetime.timedelta(minutes=30)
SESSION_MAX_AGE = datetime.timedelta(hours=12)
# last_seen_at moves at most this often: a write a minute per active
# session rather than one per request (the idle timeout is in minutes).
LAST_SEEN_STEP = datetime.timedelta(minutes=1)

# scrypt N=2^15, r=8, p=1: ~32 MB and ~0.1 s per hash on this class of
# machine. The parameters are stored in each hash, so they can be raised
# later without breaking old hashes.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(raw):
    return base64.b64encode(raw).decode('ascii')


def hash_password(password):
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode('utf-8'), salt=salt, n=SCRYPT_N,
                            r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=32)
    return f'scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}'


def check_password(password, stored):
    try:
        scheme, n, r, p, salt, digest = stored.split('$')
        if scheme != 'scrypt':
            return False
        actual = hashlib.scrypt(password.encode('utf-8'), salt=base64.b64decode(salt),
                                n=int(n), r=int(r), p=int(p), maxmem=SCRYPT_MAXMEM,
                                dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


# Checked against when the email is unknown, so a wrong email costs the same
# time as a wrong password and timing does not reveal who has an account.
_DUMMY_HASH = None


def _dummy_hash():
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    return _DUMMY_HASH


def _token_hash(token):
    return hashlib.sha256(token.encode('ascii', 'replace')).hexdigest()


def authenticate(email, password):
    """The active user with these credentials, or None. Throttling is the
    caller's (app.services.login_throttle)."""
    user = User.by_email(email)
    if user is None or not user.active:
        check_password(password, _dummy_hash())
        return None
    return user if check_password(password, user.password_hash) else None


@dataclasses.dataclass(frozen=True)
class SessionStart:
    """What a new session records: when (the app's clock), how long it may
    last at most, and where from (shown in the user's list of sessions)."""
    now: datetime.datetime | None = None
    max_age: datetime.timedelta = SESSION_MAX_AGE
    client_address: str | None = None
    user_agent: str | None = None


def start_session(user, start=None):
    """Create a session; returns (cookie token, Session)."""
    start = start or SessionStart()
    now = start.now or utcnow()
    token = secrets.token_urlsafe(32)
    session = Session.create(token_hash=_token_hash(token), user=user,
                             csrf_token=secrets.token_urlsafe(32),
                             created_at=now, last_seen_at=now,
                             expires_at=now + start.max_age,
                             client_address=(start.client_address or '')[:64] or None,
                             user_agent=(start.user_agent or '')[:300] or None)
    # Opportunistic cleanup keeps the table small without a job of its own;
    # by the earlier of the app's clock and the machine's, so an app whose
    # clock is set ahead never sweeps sessions still live by the other.
    Session.delete().where(Session.expires_at < min(now, utcnow())).execute()
    return token, session


@dataclasses.dataclass(frozen=True)
class SignedInUser:
    """The logged-in user as views and templates read it. A plain value, so
    one request cannot change what another sees; a view that writes to the
    account loads its User row."""
    id: int
    email: str | None
    name: str
    role: str
    phone: str | None
    specialization: str | None
    reminders_enabled: bool
    date_of_birth: datetime.date | None

    public = User.public  # the same JSON as the row's


@dataclasses.dataclass(frozen=True)
class LiveSession:
    """A session that is valid now, with its user. `expires_at`: when it
    ends if no other request comes (the idle timeout or the absolute end);
    `seen_at`: its last_seen_at as stored; `second_factor`: whether the user
    had a confirmed second factor (read with the session, so STAFF_2FA=required
    costs no query per request)."""
    token_hash: str
    csrf_token: str
    expires_at: datetime.datetime
    seen_at: datetime.datetime
    second_factor: bool
    user: SignedInUser

    def fresh_at(self, now):
        """Usable again at `now` without a read (app.session_cache): not
        ended, and no last_seen_at write due."""
        return self.expires_at > now and now - self.seen_at < LAST_SEEN_STEP


USER_COLUMNS = [getattr(User, field.name) for field in dataclasses.fields(SignedInUser)]


def not_ended(now, idle=SESSION_IDLE, max_age=SESSION_MAX_AGE):
    """The condition on Session rows that have not ended at `now`: not
    expired, younger than `max_age`, used within `idle`."""
    return ((Session.expires_at > now)
            & (Session.created_at > now - max_age)
            & (Session.last_seen_at > now - idle))


def session_for_token(token, now=None, idle=SESSION_IDLE, max_age=SESSION_MAX_AGE):
    """The LiveSession for a cookie's token, or None when there is none or
    it has ended (idle for `idle`, or older than `max_age`)."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    token_hash = _token_hash(token)
    second_factor = fn.EXISTS(TwoFactor.select(TwoFactor.user).where(
        TwoFactor.user == User.id, TwoFactor.confirmed_at.is_null(False)))
    row = (Session.select(Session.csrf_token, Session.created_at, Session.expires_at,
                          Session.last_seen_at, second_factor, *USER_COLUMNS)
           .join(User)
           .where(Session.token_hash == token_hash,
                  not_ended(now, idle, max_age),
                  User.active == True)  # noqa: E712
           .tuples()
           .first())
    if row is None:
        return None
    csrf_token, created_at, expires_at, last_seen_at = row[:4]
    if now - last_seen_at >= LAST_SEEN_STEP:
        # Only while still due: requests racing here (other processes too)
        # make one write, not one each.
        (Session.update(last_seen_at=now)
         .where(Session.token_hash == token_hash,
                Session.last_seen_at <= now - LAST_SEEN_STEP)
         .execute())
        last_seen_at = now
    ends = min(expires_at, created_at + max_age, last_seen_at + idle)
    return LiveSession(token_hash, csrf_token, ends, last_seen_at, bool(row[4]),
                       user=SignedInUser(*row[5:]))


def end_session(token):
    if token:
        Session.delete().where(Session.token_hash == _token_hash(token)).execute()


def csrf_ok(session, supplied):
    return bool(session and supplied) and hmac.compare_digest(
        session.csrf_token.encode(), supplied.encode('utf-8', 'replace'))


def sign(secret_key, message):
    """A URL-safe HMAC of `message` (used for unsubscribe links)."""
    mac = hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode('ascii')


def verify_signature(secret_key, message, signature):
    return hmac.compare_digest(sign(secret_key, message), signature or '')
