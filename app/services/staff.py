"""Staff accounts (SPEC §9): the admin invites reception and admin
accounts, renames them and deactivates them. A new account has no password
anyone knows; its owner chooses one through the invitation link. The
caller asks for the outbox's delivery after the commit."""
import secrets

import peewee

from app import session_cache, validate
from app.auth import hash_password
from app.db import database
from app.errors import conflict, not_found
from app.models import PasswordLink, User
from app.services import audit, password_links

ROLES = ('reception', 'admin')


def public(user):
    return {**user.public(), 'active': user.active}


def create(settings, admin, data, ip=None):
    """A staff account with an unusable password, and its invitation in the
    outbox, in one transaction: no account exists that nobody was told of."""
    email = validate.email(data)
    name = validate.text(data, 'name', max_len=200)
    role = validate.choice(data, 'role', ROLES)
    # A hash of a password nobody ever sees: logging in costs the same as
    # for any account, and the invitation link's tie to the password works.
    unusable = hash_password(secrets.token_urlsafe(32))
    try:
        with database.atomic():
            user = User.create(email=email, password_hash=unusable, name=name, role=role)
            password_links.queue_invitation(settings, user, admin)
            audit.record('staff.invite', admin, target=f'user:{user.id}', ip=ip)
    except peewee.IntegrityError:
        raise conflict('email: an account with this email already exists', field='email')
    return user


def get(staff_id):
    user = User.get_or_none((User.id == staff_id) & User.role.in_(ROLES))
    if user is None:
        raise not_found('staff account not found')
    return user


def page(limit=100, offset=0):
    """(total, accounts): active first, then by name."""
    query = (User.select()
             .where(User.role.in_(ROLES))
             .order_by(User.active.desc(), User.name, User.id))
    return query.count(), list(query.limit(limit).offset(offset))


def update(admin, staff_id, data, ip=None):
    """Rename, deactivate or reactivate. Deactivating ends every session of
    the account at once; an admin cannot lock themself out."""
    user = get(staff_id)
    changes = {}
    if 'name' in data:
        changes['name'] = validate.text(data, 'name', max_len=200)
    if 'active' in data:
        changes['active'] = validate.boolean(data, 'active')
        if not changes['active'] and user.id == admin.id:
            raise conflict('active: you cannot deactivate your own account; '
                           'ask another admin', field='active')
    if not changes:
        return user
    with database.atomic():
        User.update(**changes).where(User.id == user.id).execute()
        if changes.get('active') is False:
            session_cache.end_user_sessions(user.id)
        audit.record('staff.update', admin, target=f'user:{user.id}', ip=ip)
    for field, value in changes.items():
        setattr(user, field, value)
    return user


def invite_again(settings, admin, staff_id, ip=None):
    """A new invitation link. Older unused invitation links are voided: the
    admin sends again because the first email went astray, and a copy of it
    somewhere should not keep working for its 72 hours."""
    user = get(staff_id)
    if not user.active:
        raise conflict('this account is inactive; activate it before inviting again')
    with database.atomic():
        (PasswordLink.delete()
         .where(PasswordLink.user == user.id,
                PasswordLink.purpose == 'invite',
                PasswordLink.used_at.is_null())
         .execute())
        password_links.queue_invitation(settings, user, admin)
        audit.record('staff.invite', admin, target=f'user:{user.id}', ip=ip)
    return user
