"""The front desk's patients (SPEC §9): registering a walk-in, editing a
patient's details, and a patient editing their own. Each change keeps the
patient's search words in step (app.services.patient_search) and is
audited."""
import secrets

import peewee

from app import mail, session_cache, validate
from app.db import database
from app.errors import ApiError, bad_request, conflict
from app.models import User
from app.services import accounts, audit, password_links, patient_search, stats
from app.templating import render_email

# What a walk-in's password_hash holds until they follow their invitation:
# no scrypt hash, so auth.check_password refuses every password.
NO_PASSWORD = '!'


def _no_password():
    return NO_PASSWORD + secrets.token_hex(16)


def has_password(user):
    return not user.password_hash.startswith(NO_PASSWORD)


def _details(data, today, fields):
    """The validated subset of name, email, phone, date_of_birth and
    reminders_enabled present in `data` (all of `fields` are allowed)."""
    checks = {'name': lambda: validate.text(data, 'name', max_len=200),
              'email': lambda: validate.email(data, required=False),
              'phone': lambda: validate.phone(data),
              'date_of_birth': lambda: validate.date_of_birth(data, today),
              'reminders_enabled': lambda: validate.boolean(data, 'reminders_enabled')}
    return validate.each({field: checks[field] for field in fields if field in data})


def _email_taken():
    return conflict('email: an account with this email already exists', field='email')


def register_walk_in(settings, today, data, staff, ip=None):
    """A patient registered at the desk. With an email, an invitation to
    choose a password goes to the outbox; returns (patient, invited) and
    the caller asks for delivery when invited."""
    details = _details(data, today, ('email', 'phone', 'date_of_birth'))
    details['name'] = validate.text(data, 'name', max_len=200)
    try:
        with database.atomic():
            database.after_commit(stats.invalidate)
            patient = User.create(role='patient', password_hash=_no_password(), **details)
            patient_search.reindex([patient])
            audit.record('patient.register', staff, patient.id, f'user:{patient.id}', ip)
            if patient.email:
                password_links.queue_invitation(settings, patient, staff)
    except peewee.IntegrityError:
        raise _email_taken()
    return patient, bool(patient.email)


def _save(patient, changes, actor, ip):
    if not changes:
        return patient
    try:
        with database.atomic():
            User.update(**changes).where(User.id == patient.id).execute()
            for field, value in changes.items():
                setattr(patient, field, value)
            patient_search.reindex([patient])
            audit.record('patient.update', actor, patient.id, f'user:{patient.id}', ip)
    except peewee.IntegrityError:
        raise _email_taken()
    return patient


def update_patient(settings, today, patient_id, data, staff, ip=None):
    """Reception or an admin edits a patient's details; returns (patient,
    mailed: whether mail waits in the outbox, invited). A patient who never
    chose a password gets an invitation at a new email. The email of one
    who did is their login: whoever controls it can reset the password, so
    only an admin may move it; the patient's sessions end and the old
    address is told."""
    patient = accounts.get_patient(patient_id)
    changes = _details(data, today, ('name', 'email', 'phone', 'date_of_birth',
                                     'reminders_enabled'))
    new_email = changes.get('email', patient.email)
    login = has_password(patient)
    if new_email is None and login:
        raise bad_request('email', 'is how this patient logs in; it cannot be removed')
    moved = new_email != patient.email
    if moved and login and staff.role != 'admin':
        raise ApiError(403, 'email: this patient logs in with it; only an admin can change it',
                       field='email')
    invite = moved and new_email is not None and not login
    old_email = patient.email
    with database.atomic():
        _save(patient, changes, staff, ip)
        if invite:
            password_links.queue_invitation(settings, patient, staff)
        if moved and login:
            session_cache.end_user_sessions(patient.id)
            _queue_login_moved(settings, patient, old_email)
    return patient, invite or (moved and login), invite


def _queue_login_moved(settings, patient, old_email):
    text = render_email('mail/login_email_changed.txt', name=patient.name,
                        clinic_name=settings.clinic_name, clinic_phone=settings.clinic_phone,
                        new_email=patient.email)
    mail.queue_message(f'login-moved:{patient.id}:{secrets.token_hex(8)}', old_email,
                       f'Your {settings.clinic_name} login email was changed', text)


def update_own(today, user, data, ip=None):
    """A patient edits their own name, phone and date of birth."""
    patient = accounts.get_patient(user.id)
    return _save(patient, _details(data, today, ('name', 'phone', 'date_of_birth')), user, ip)
