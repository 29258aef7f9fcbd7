"""Accounts: patients register themselves; admins create doctors and
admins; logging in and out, each recorded in the audit trail."""
import peewee

from app import auth, validate
from app.auth import hash_password
from app.db import database
from app.errors import ApiError, conflict, not_found
from app.models import User
from app.services import audit, stats


def _create_user(data, role, specialization=None):
    email = validate.email(data)
    password = validate.password(data)
    name = validate.text(data, 'name', max_len=200)
    phone = validate.text(data, 'phone', required=False, max_len=40)
    if phone is not None and not all(ch.isdigit() or ch in '+-() .' for ch in phone):
        raise ApiError(400, 'phone: may contain only digits, spaces and + - ( ) .', field='phone')
    try:
        with database.atomic():
            database.after_commit(stats.invalidate)
            return User.create(email=email, password_hash=hash_password(password),
                               name=name, phone=phone, role=role,
                               specialization=specialization)
    except peewee.IntegrityError:
        raise conflict('email: an account with this email already exists', field='email')


def register_patient(data):
    return _create_user(data, 'patient')


def create_doctor(data):
    specialization = validate.text(data, 'specialization', max_len=120)
    return _create_user(data, 'doctor', specialization=specialization)


def create_or_reset_admin(email, password):
    """Create the admin, or reset the password and role of that account."""
    data = {'email': email, 'password': password, 'name': 'Administrator'}
    email = validate.email(data)
    password = validate.password(data)
    with database.atomic():
        database.after_commit(stats.invalidate)
        user = User.by_email(email)
        if user is None:
            return User.create(email=email, password_hash=hash_password(password),
                               name='Administrator', role='admin'), True
        user.password_hash = hash_password(password)
        user.role = 'admin'
        user.active = True
        user.save()
        return user, False


def ensure_admin(email, password):
    """Start-up helper: create the configured admin only when missing."""
    if User.by_email(email) is None:
        create_or_reset_admin(email, password)


def log_in(email, password, ip=None):
    """Check the credentials and start a session: (user, cookie token,
    Session), with a 'login' entry in the session's transaction. A wrong
    password writes 'login.failed'; a throttled attempt (429) never reaches
    the password check and writes nothing."""
    try:
        # Outside the transaction: the ~0.1 s password hash must not hold
        # the write lock, and the counted failure must survive the 401.
        user = auth.authenticate(email, password, ip)
    except ApiError as exc:
        if exc.status == 401:
            _record_failed_login(email, ip)
        raise
    with database.atomic():
        audit.record('login', user, ip=ip)
        token, session = auth.start_session(user)
    return user, token, session


def _record_failed_login(email, ip):
    account = User.by_email(email)
    if account is None:
        audit.record('login.failed', None, ip=ip)
        return
    patient_id = account.id if account.role == 'patient' else None
    audit.record('login.failed', None, patient_id, f'user:{account.id}', ip)


def log_out(token, ip=None):
    """End the session of this cookie token, with a 'logout' entry when it
    was a live session."""
    session = auth.session_for_token(token)
    with database.atomic():
        if session is not None:
            audit.record('logout', session.user, ip=ip)
        auth.end_session(token)


def set_reminders(user, enabled):
    (User.update(reminders_enabled=enabled)
     .where(User.id == user.id)
     .execute())
    user.reminders_enabled = enabled


def get_doctor(doctor_id):
    doctor = User.get_or_none((User.id == doctor_id) & (User.role == 'doctor'))
    if doctor is None:
        raise not_found('doctor not found')
    return doctor


def get_patient(patient_id):
    patient = User.get_or_none((User.id == patient_id) & (User.role == 'patient'))
    if patient is None:
        raise not_found('patient not found')
    return patient


def list_patients(search=None, limit=100, offset=0):
    query = (User.select()
             .where(User.role == 'patient')
             .order_by(User.name, User.id))
    if search:
        needle = search.lower()
        query = query.where(peewee.fn.LOWER(User.name).contains(needle)
                            | User.email.contains(needle))
    return query.count(), list(query.limit(limit).offset(offset))


def list_doctors(limit=100, offset=0):
    query = User.doctors()
    return query.count(), list(query.limit(limit).offset(offset))
