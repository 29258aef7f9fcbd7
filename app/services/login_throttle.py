"""Login throttling that cannot be turned against users (SPEC §10).

Tries are counted per (account, client address) and per client address.
Past a free allowance every further try doubles a delay (capped) during
which that key's logins are not checked at all. There is no lock: the
right password from an address that has not failed is never refused, and a
typo or two from the owner's own address costs nothing.

Counting is atomic: a login reserves its try before the password is
checked (an UPDATE that only matches while the key is not delayed, in one
transaction for both keys), so parallel guesses cannot all pass "under the
limit" together. A login that succeeds hands its try back.
"""
import datetime
import math

from peewee import Case

from app.db import database
from app.errors import ApiError
from app.models import LoginThrottle, utcnow
from app.services import audit

ADDRESS_ONLY = ''  # the account of the per-address row
# Tries checked before the delay starts: one person's typos on one account
# from one address; and everyone's behind one address (a clinic's NAT).
FREE_TRIES = {'account': 5, 'address': 50, 'reset_request': 10}
# The account key of an address's count of password-reset requests.
RESET_REQUESTS = 'reset-request'
FIRST_DELAY = datetime.timedelta(seconds=30)
MAX_DELAY = datetime.timedelta(minutes=15)
# A key quiet this long starts again from nothing.
FORGET_AFTER = datetime.timedelta(hours=24)


def delay_after(tries, free):
    """The wait after the `tries`-th try of a key: none within the free
    allowance, then 30 s, 60 s, 120 s ... up to 15 minutes."""
    if tries < free:
        return None
    return min(MAX_DELAY, FIRST_DELAY * 2 ** min(tries - free, 20))


def code_key(email):
    """The account key two-factor codes are counted under: apart from the
    password's, so a right password does not hand back a wrong code's try."""
    return f'2fa:{email}'


def _accounts_of(user):
    return [user.email or '', code_key(user.email or '')]


def _address(address):
    return (address or '-')[:45]


def _keys(email, address):
    address = _address(address)
    return [((email or '')[:254], address, FREE_TRIES['account']),
            (ADDRESS_ONLY, address, FREE_TRIES['address'])]


def _key_where(account, address):
    return (LoginThrottle.account == account) & (LoginThrottle.address == address)


def _count(account, address, free, now, refuse):
    """Count one try of a key; with `refuse`, only while it is not delayed.
    False when refused. Runs inside the caller's transaction: on PostgreSQL
    the UPDATE's row lock holds a parallel try until this one commits, and
    that try then sees the delay this one set."""
    (LoginThrottle.insert(account=account, address=address, tries=0, last_try_at=now)
     .on_conflict_ignore()
     .execute())
    T = LoginThrottle
    fresh = T.last_try_at < now - FORGET_AFTER
    query = (T.update(tries=Case(None, [(fresh, 1)], T.tries + 1), last_try_at=now)
             .where(_key_where(account, address)))
    if refuse:
        query = query.where(T.delayed_until.is_null() | (T.delayed_until <= now))
    if not query.execute():
        return False
    tries = T.select(T.tries).where(_key_where(account, address)).scalar()
    wait = delay_after(tries, free)
    if wait is not None:
        T.update(delayed_until=now + wait).where(_key_where(account, address)).execute()
    return True


def retry_after(until, now):
    return max(1, math.ceil((until - now).total_seconds()))


def wait_words(seconds):
    """'30 seconds', 'a minute', '4 minutes': a wait as a person says it."""
    if seconds < 60:
        return f'{seconds} seconds'
    minutes = math.ceil(seconds / 60)
    return 'a minute' if minutes == 1 else f'{minutes} minutes'


def too_many(until, now, what='failed logins'):
    seconds = retry_after(until, now)
    return ApiError(429, f'too many {what} from here; try again in {wait_words(seconds)}',
                    headers={'Retry-After': str(seconds)})


def reserve(email, address, now=None):
    """Count this login try before its password is checked, or raise
    ApiError 429 (with Retry-After) while the account from this address, or
    this address, is delayed."""
    _reserve(_keys(email, address), now or utcnow(), 'failed logins')


def reserve_reset_request(address, now=None):
    """Count a request for a password-reset link from this address, or
    raise ApiError 429 while the address is delayed. Each request holds a
    web thread for a fixed time (so timing tells nobody who has an account)
    and may write a mail: an address gets a few, then waits as after failed
    logins, and a delayed request is answered at once, the same for every
    email."""
    _reserve([(RESET_REQUESTS, _address(address), FREE_TRIES['reset_request'])],
             now or utcnow(), 'password reset requests')


def _reserve(keys, now, what):
    """Count a try of each (account, address, free) key in one transaction,
    or raise ApiError 429 at the first one that is delayed."""
    with database.atomic():
        for account, address, free in keys:
            if not _count(account, address, free, now, refuse=True):
                until = (LoginThrottle.select(LoginThrottle.delayed_until)
                         .where(_key_where(account, address))
                         .scalar())
                raise too_many(until, now, what)


def succeeded(email, address):
    """The login was right: forget this account's tries from this address
    and hand the address its try back."""
    (account, addr, _), (_, _, free) = _keys(email, address)
    T = LoginThrottle
    with database.atomic():
        T.delete().where(_key_where(account, addr)).execute()
        only_address = _key_where(ADDRESS_ONLY, addr)
        T.update(tries=T.tries - 1).where(only_address, T.tries > 0).execute()
        T.update(delayed_until=None).where(only_address, T.tries < free).execute()


def forget_quiet(now):
    """Delete the keys quiet long enough to be forgotten anyway (housekeeping)."""
    return (LoginThrottle.delete()
            .where(LoginThrottle.last_try_at < now - FORGET_AFTER - MAX_DELAY).execute())


def delayed_until(user, now=None):
    """When the latest delay on this account ends, or None when its logins
    are not delayed from any address."""
    now = now or utcnow()
    return (LoginThrottle.select(LoginThrottle.delayed_until)
            .where(LoginThrottle.account.in_(_accounts_of(user)),
                   LoginThrottle.delayed_until > now)
            .order_by(LoginThrottle.delayed_until.desc())
            .scalar())


def clear(admin, user, ip=None):
    """An admin's unlock: forget every try on this account, audited. The
    count of each address alone stays: it is not this account's."""
    with database.atomic():
        LoginThrottle.delete().where(LoginThrottle.account.in_(_accounts_of(user))).execute()
        patient_id = user.id if user.role == 'patient' else None
        audit.record('login.unlock', admin, patient_id, f'user:{user.id}', ip)
