"""Passwords, server-side sessions, CSRF tokens and login throttling."""
import base64
import dataclasses
import datetime
import hashlib
import hmac
import secrets

from app.errors import ApiError
from app.models import LoginFailure, Session, User, utcnow

SESSION_COOKIE = 'clinicdesk_session'
SESSION_LIFETIME = datetime.timedelta(days=7)

# scrypt N=2^15, r=8, p=1: ~32 MB and ~0.1 s per hash on this class of
# machine. The parameters are stored in each hash, so they can be raised
# later without breaking old hashes.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024

# Throttling: this many failures for one email (or, higher because a whole
# clinic may share one address, from one client address) within the window
# answer 429 until the window has passed.
LOGIN_MAX_FAILURES = {'email': 5, 'ip': 100}
LOGIN_WINDOW = datetime.timedelta(minutes=15)


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


def _throttle_keys(email, client_ip):
    return [f'email:{email}', f'ip:{client_ip or "-"}']


def check_throttle(email, client_ip, now=None):
    now = now or utcnow()
    recent = (LoginFailure.select(LoginFailure.key)
              .where(LoginFailure.key.in_(_throttle_keys(email, client_ip)),
                     LoginFailure.at > now - LOGIN_WINDOW))
    by_key = {}
    for row in recent:
        by_key[row.key] = by_key.get(row.key, 0) + 1
    if any(count >= LOGIN_MAX_FAILURES[key.split(':', 1)[0]] for key, count in by_key.items()):
        raise ApiError(429, 'too many failed logins; please wait 15 minutes and try again')


def record_failure(email, client_ip, now=None):
    """Count one failed login (a wrong password or second-factor code)."""
    LoginFailure.insert_many([{'key': key, 'at': now or utcnow()}
                              for key in _throttle_keys(email, client_ip)]).execute()


def authenticate(email, password, client_ip, now=None):
    """The active user with these credentials, or ApiError 401/429."""
    now = now or utcnow()
    check_throttle(email, client_ip, now)
    user = User.by_email(email)
    if user is None or not user.active:
        check_password(password, _dummy_hash())
        ok = False
    else:
        ok = check_password(password, user.password_hash)
    if not ok:
        record_failure(email, client_ip, now)
        raise ApiError(401, 'wrong email or password')
    LoginFailure.delete().where(LoginFailure.key == f'email:{email}').execute()
    return user


def start_session(user, now=None):
    """Create a session; returns (cookie token, Session)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session = Session.create(token_hash=_token_hash(token), user=user,
                             csrf_token=secrets.token_urlsafe(32),
                             created_at=now, expires_at=now + SESSION_LIFETIME)
    # Opportunistic cleanup keeps the table small without a job of its own.
    Session.delete().where(Session.expires_at < now).execute()
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
    """A session that is valid now, with its user."""
    token_hash: str
    csrf_token: str
    expires_at: datetime.datetime
    user: SignedInUser


USER_COLUMNS = [getattr(User, field.name) for field in dataclasses.fields(SignedInUser)]


def session_for_token(token, now=None):
    """The LiveSession for a cookie's token, or None."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    row = (Session.select(Session.token_hash, Session.csrf_token, Session.expires_at,
                          *USER_COLUMNS)
           .join(User)
           .where(Session.token_hash == _token_hash(token),
                  Session.expires_at > now,
                  User.active == True)  # noqa: E712
           .tuples()
           .first())
    if row is None:
        return None
    return LiveSession(*row[:3], user=SignedInUser(*row[3:]))


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
