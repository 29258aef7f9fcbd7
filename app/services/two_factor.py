"""Staff two-factor (SPEC §10): a TOTP authenticator (RFC 6238: 30-second
steps, 6 digits, one step of drift either way, each code once) plus ten
single-use recovery codes, and the short-lived record that carries a login
from its correct password to its code.

Time is the clinic Clock's, so tests drive it through the clock setting.
A wrong code counts as a failed login for throttling, under its own account
key: a correct password clears the password failures, and must not hand a
password holder a fresh budget of code guesses."""
import datetime
import hmac
import re
import secrets

from app import auth
from app.db import database
from app.errors import ApiError, bad_request, conflict
from app.models import PendingLogin, RecoveryCode, TwoFactor
from app.services import audit, login_throttle

STAFF_ROLES = ('doctor', 'reception', 'admin')
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
PENDING_LIFETIME = datetime.timedelta(minutes=5)
NEEDED = 'enter the 6-digit code from your authenticator app (or a recovery code)'
WRONG = 'that code is not right, or was used already'
TOTP_RE = re.compile(r'[0-9]{6}', re.ASCII)
RECOVERY_RE = re.compile(r'[0-9a-f]{12}', re.ASCII)


class CodeNeeded(ApiError):
    """A correct password for an account with two-factor, and no code yet."""

    def __init__(self, user):
        super().__init__(401, NEEDED, field='otp', extra={'two_factor': True})
        self.user = user


def _row(user_id):
    return TwoFactor.get_or_none(TwoFactor.user == user_id)


def must_enrol(settings, session):
    """STAFF_2FA=required and this staff member had no confirmed second factor
    when their session (an auth.LiveSession) was read."""
    return (settings.staff_2fa == 'required' and session.user.role in STAFF_ROLES
            and not session.second_factor)


def state(settings, user):
    """What the enrolment page shows: 'on', or 'pending' with the secret,
    its otpauth URI and how many recovery codes are left, or 'off'."""
    row = _row(user.id)
    if row is None:
        return {'status': 'off'}
    if row.confirmed_at is None:
        return {'status': 'pending', 'secret': row.secret,
                'otpauth_uri': _uri(settings, user, row.secret)}
    left = (RecoveryCode.select()
            .where(RecoveryCode.user == user.id, RecoveryCode.used_at.is_null())
            .count())
    return {'status': 'on', 'recovery_codes_left': left}


def _totp(secret):
    import pyotp  # here: 5 MB that only staff with two-factor need (SPEC P6)
    return pyotp.TOTP(secret)


def _uri(settings, user, secret):
    return _totp(secret).provisioning_uri(name=user.email or f'user-{user.id}',
                                        issuer_name=settings.clinic_name or 'ClinicDesk')


def _staff_only(user):
    if user.role not in STAFF_ROLES:
        raise ApiError(403, 'two-factor is for staff accounts')


def enrol(settings, user, clock, ip=None):
    """A new secret, pending until confirm(): {"secret", "otpauth_uri"}.
    Starting again replaces a pending secret; a confirmed one must be
    turned off first."""
    _staff_only(user)
    import pyotp
    secret = pyotp.random_base32()
    with database.atomic():
        row = _row(user.id)
        if row is not None and row.confirmed_at is not None:
            raise conflict('two-factor is already on; turn it off first to enrol a new device')
        TwoFactor.delete().where(TwoFactor.user == user.id).execute()
        TwoFactor.create(user=user.id, secret=secret, created_at=clock.utcnow())
        audit.record('two_factor.enrol', user, target=f'user:{user.id}', ip=ip)
    return {'secret': secret, 'otpauth_uri': _uri(settings, user, secret)}


def confirm(settings, user, code, clock, ip=None):
    """Turn two-factor on with a first code; the ten recovery codes, which
    exist nowhere else once this answer is shown."""
    _staff_only(user)
    row = _row(user.id)
    if row is None or row.confirmed_at is not None:
        raise conflict('there is no enrolment waiting for a code; start one first')
    if _use_code(settings, user, row, code, clock, ip, recovery=False) is None:
        raise bad_request('code', WRONG)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    with database.atomic():
        TwoFactor.update(confirmed_at=clock.utcnow()).where(TwoFactor.user == user.id).execute()
        RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()
        RecoveryCode.insert_many([{'user': user.id, 'code_hash': _recovery_hash(settings, user, c)}
                                  for c in codes]).execute()
        audit.record('two_factor.confirm', user, target=f'user:{user.id}', ip=ip)
    return [f'{c[:4]}-{c[4:8]}-{c[8:]}' for c in codes]


def disable(settings, user, code, clock, ip=None):
    """Turn two-factor off; needs a current code or an unused recovery code."""
    row = _row(user.id)
    if row is None or row.confirmed_at is None:
        raise conflict('two-factor is not on')
    if _use_code(settings, user, row, code, clock, ip) is None:
        raise bad_request('code', WRONG)
    with database.atomic():
        remove(user.id)
        audit.record('two_factor.disable', user, target=f'user:{user.id}', ip=ip)


def remove(user_id):
    """Forget an account's second factor without a code: `create-admin`
    resetting an admin who lost their phone (whoever runs it has the server)."""
    RecoveryCode.delete().where(RecoveryCode.user == user_id).execute()
    TwoFactor.delete().where(TwoFactor.user == user_id).execute()


def check_login(settings, user, otp, clock, ip=None):
    """After a correct password: nothing to do for an account without
    two-factor; otherwise `otp` must be a current code or an unused recovery
    code, else 401 with "two_factor": true."""
    row = _row(user.id)
    if row is None or row.confirmed_at is None:
        return
    if not otp:
        raise CodeNeeded(user)
    if _use_code(settings, user, row, otp, clock, ip) is None:
        audit.record('login.failed_code', None, target=f'user:{user.id}', ip=ip)
        raise ApiError(401, WRONG, field='otp', extra={'two_factor': True})


def _use_code(settings, user, row, code, clock, ip, recovery=True):
    """'totp' or 'recovery' when `code` is accepted (and now spent), else
    None, counted as a failed login. Throttled like a password."""
    throttle_key = login_throttle.code_key(user.email)
    login_throttle.reserve(throttle_key, ip, clock.utcnow())
    code = re.sub(r'[\s-]', '', code if isinstance(code, str) else '')[:40].lower()
    kind = None
    if TOTP_RE.fullmatch(code) and _spend_totp(row, code, clock):
        kind = 'totp'
    elif recovery and RECOVERY_RE.fullmatch(code) and _spend_recovery(settings, user, code,
                                                                      clock):
        kind = 'recovery'
        audit.record('two_factor.recovery_code', user, target=f'user:{user.id}', ip=ip)
    if kind is not None:
        login_throttle.succeeded(throttle_key, ip)
    return kind


def _spend_totp(row, code, clock):
    """Accept a code of the current step or one either side, newer than the
    last one used; compare-and-set on last_step, so of two uses at once only
    one wins."""
    totp = _totp(row.secret)
    now_step = int(clock.now().timestamp()) // STEP_SECONDS
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if row.last_step is not None and step <= row.last_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            newer = TwoFactor.last_step.is_null() | (TwoFactor.last_step < step)
            taken = (TwoFactor.update(last_step=step)
                     .where(TwoFactor.user == row.user_id, newer)
                     .execute())
            return bool(taken)
    return False


def _new_recovery_code():
    return secrets.token_hex(6)  # 48 random bits, shown as xxxx-xxxx-xxxx


def _recovery_hash(settings, user, code):
    # A fast keyed hash is enough: the codes are random, and without the
    # secret key a copy of the database cannot be searched for them.
    return auth.sign(settings.secret_key, f'recovery:{user.id}:{code}')


def _spend_recovery(settings, user, code, clock):
    taken = (RecoveryCode.update(used_at=clock.utcnow())
             .where(RecoveryCode.user == user.id,
                    RecoveryCode.code_hash == _recovery_hash(settings, user, code),
                    RecoveryCode.used_at.is_null())
             .execute())
    return bool(taken)


def start_pending_login(user, clock):
    """A token (for a short-lived cookie) standing for "this user gave the
    right password"; the login form's second step redeems it with a code."""
    token = secrets.token_urlsafe(32)
    now = clock.utcnow()
    PendingLogin.delete().where(PendingLogin.expires_at < now).execute()
    PendingLogin.create(token_hash=auth._token_hash(token), user=user.id,
                        expires_at=now + PENDING_LIFETIME)
    return token


def pending_login_user(token, clock):
    """The User waiting for a code behind this token, or None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    row = (PendingLogin.select()
           .where(PendingLogin.token_hash == auth._token_hash(token),
                  PendingLogin.expires_at > clock.utcnow())
           .first())
    return row.user if row else None


def end_pending_login(token):
    if isinstance(token, str) and token:
        PendingLogin.delete().where(PendingLogin.token_hash == auth._token_hash(token)).execute()
