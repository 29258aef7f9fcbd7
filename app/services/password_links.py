"""Single-use links that set a password (SPEC §9 invitations, §10 resets).

The token goes out once, in an email; this table keeps only its SHA-256. The
email itself stays in the outbox until housekeeping prunes it (so an
uncertain one can be sent again); the admin's outbox page hides the link
when mail goes out by SMTP. A link works once, until it expires
(72 hours for an invitation, 1 hour for a reset), for an active account, and
only while the account still has the password it had when the link was
issued: setting a password any way voids every older link. Setting one ends
all the account's sessions."""
import datetime
import hashlib
import secrets

from app import auth, mail, session_cache, validate
from app.db import database
from app.errors import ApiError
from app.models import PasswordLink, User, utcnow
from app.templating import render_email

LIFETIMES = {'invite': datetime.timedelta(hours=72), 'reset': datetime.timedelta(hours=1)}
RESET_REQUEST_GAP = datetime.timedelta(minutes=1)
INVALID = ('this link is not valid any more: it was used already, has expired, or a newer '
           'password was set since. Ask for a new one.')


def _hash(token):
    return hashlib.sha256(token.encode('ascii', 'replace')).hexdigest()


def _mark(user):
    """Which password the account has, without keeping the hash twice."""
    return hashlib.sha256((user.password_hash or '').encode()).hexdigest()


def issue(user, purpose, now=None):
    """A new link for `user`; returns the token (shown once, in the email)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    PasswordLink.create(token_hash=_hash(token), user=user.id, purpose=purpose,
                        password_mark=_mark(user), created_at=now,
                        expires_at=now + LIFETIMES[purpose])
    return token


def _live(token, now):
    """(link, user) while the link may still be used, else ApiError 400."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise ApiError(400, INVALID, field='token')
    link = PasswordLink.get_or_none(PasswordLink.token_hash == _hash(token))
    user = User.get_or_none(User.id == link.user_id) if link else None
    if (link is None or user is None or not user.active or link.used_at is not None
            or link.expires_at <= now or link.password_mark != _mark(user)):
        raise ApiError(400, INVALID, field='token')
    return link, user


def check(token, now=None):
    """The account a link is for, or ApiError 400 (for the form to show)."""
    return _live(token, now or utcnow())[1]


def redeem(token, data, now=None):
    """Set the password a link was sent for; the user. Of two uses at once
    only one wins (compare-and-set on used_at); every session of the
    account ends, as after any password change."""
    now = now or utcnow()
    password = validate.password(data)
    with database.atomic():
        link, user = _live(token, now)
        taken = (PasswordLink.update(used_at=now)
                 .where(PasswordLink.token_hash == link.token_hash,
                        PasswordLink.used_at.is_null())
                 .execute())
        if not taken:
            raise ApiError(400, INVALID, field='token')
        (User.update(password_hash=auth.hash_password(password))
         .where(User.id == user.id)
         .execute())
        session_cache.end_user_sessions(user.id)
    return user


def request_reset(settings, email, now=None):
    """Write a reset email for `email` to the outbox when it names an active
    account; True when one was written (the caller asks for delivery after
    the commit). The client's answer never depends on it. At most one link
    a minute per account, so nobody can flood a mailbox through the form."""
    now = now or utcnow()
    user = User.by_email(email)
    if user is None or not user.active:
        return False
    with database.atomic():
        recent = (PasswordLink.select()
                  .where(PasswordLink.user == user.id, PasswordLink.purpose == 'reset',
                         PasswordLink.created_at > now - RESET_REQUEST_GAP)
                  .exists())
        if recent:
            return False
        token = issue(user, 'reset', now)
        text = render_email('mail/password_reset.txt', name=user.name,
                            clinic_name=settings.clinic_name,
                            minutes=int(LIFETIMES['reset'].total_seconds() // 60),
                            link=f'{settings.base_url}/reset?token={token}')
        mail.queue_message(f'reset:{user.id}:{_hash(token)[:16]}', user.email,
                           f'Reset your {settings.clinic_name} password', text)
    return True


def queue_invitation(settings, user, invited_by=None):
    """Write the invitation email (a set-password link) to the outbox in the
    caller's transaction; the caller asks for delivery after the commit."""
    token = issue(user, 'invite')
    text = render_email('mail/invitation.txt', name=user.name, role=user.role,
                        inviter=invited_by.name if invited_by else None,
                        clinic_name=settings.clinic_name,
                        hours=int(LIFETIMES['invite'].total_seconds() // 3600),
                        link=f'{settings.base_url}/reset?token={token}')
    return mail.queue_message(f'invite:{user.id}:{_hash(token)[:16]}', user.email,
                              f'Your {settings.clinic_name} account: choose a password', text)
