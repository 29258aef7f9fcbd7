"""Accounts: patients register themselves; admins create doctors and
admins; logging in and out, each recorded in the audit trail."""
import peewee

from app import auth, session_cache, validate
from app.auth import hash_password
from app.db import database
from app.errors import ApiError, bad_request, conflict, not_found
from app.models import Appointment, User, WorkingHours
from app.services import audit, login_throttle, patient_search, stats, two_factor


def _create_user(data, role, specialization=None):
    checked = validate.each({'email': lambda: validate.email(data),
                             'password': lambda: validate.password(data),
                             'name': lambda: validate.text(data, 'name', max_len=200),
                             'phone': lambda: validate.phone(data)})
    email, password, name, phone = checked.values()
    try:
        with database.atomic():
            database.after_commit(stats.invalidate)
            user = User.create(email=email, password_hash=hash_password(password),
                               name=name, phone=phone, role=role,
                               specialization=specialization)
            if role == 'patient':
                patient_search.reindex([user])
            return user
    except peewee.IntegrityError:
        raise conflict('email: an account with this email already exists', field='email')


def register_patient(data):
    return _create_user(data, 'patient')


def create_doctor(data):
    """A doctor, bookable in the clinic's default hours until someone sets
    theirs."""
    specialization = validate.text(data, 'specialization', max_len=120)
    with database.atomic():
        doctor = _create_user(data, 'doctor', specialization=specialization)
        WorkingHours.give_defaults([doctor.id])
    return doctor


def update_doctor(clock, doctor_id, data):
    """Edit a doctor's name, specialization or whether they take bookings.
    Returns (doctor, affected): deactivating lists their booked
    appointments still ahead, for reception to move; none is cancelled."""
    doctor = get_doctor(doctor_id)
    changes = {}
    if 'name' in data:
        changes['name'] = validate.text(data, 'name', max_len=200)
    if 'specialization' in data:
        changes['specialization'] = validate.text(data, 'specialization', max_len=120)
    if 'active' in data:
        changes['active'] = validate.boolean(data, 'active')
    if changes:
        with database.atomic():
            database.after_commit(stats.invalidate)
            User.update(**changes).where(User.id == doctor.id).execute()
            if changes.get('active') is False:
                # As for any staff account: a deactivated doctor is signed out
                # at once, and reactivating does not bring old sessions back.
                session_cache.end_user_sessions(doctor.id)
        for field, value in changes.items():
            setattr(doctor, field, value)
    return doctor, [] if doctor.active else future_bookings(clock, doctor)


def future_bookings(clock, doctor):
    """The doctor's booked appointments still ahead, in time order: visits
    that have started are closed by the doctor, not moved."""
    now = clock.now()
    ahead = ((Appointment.date > now.date())
             | ((Appointment.date == now.date()) & (Appointment.time > f'{now:%H:%M}')))
    return list(Appointment.select()
                .where(Appointment.doctor == doctor.id,
                       Appointment.status == 'booked',
                       ahead)
                .order_by(Appointment.date, Appointment.time, Appointment.id))


def create_or_reset_admin(email, password):
    """Create the admin, or reset the password and role of that account
    (and turn its two-factor off: this is the way back in without a phone);
    its sessions end, as after any password change."""
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
        two_factor.remove(user.id)
        session_cache.end_user_sessions(user.id)
        return user, False


def ensure_admin(email, password):
    """Start-up helper: create the configured admin only when missing."""
    if User.by_email(email) is None:
        create_or_reset_admin(email, password)


def log_in(email, password, ip=None, otp=None, settings=None, clock=None, start=None):
    """Check the credentials and start a session (as `start`, an
    auth.SessionStart): (user, cookie token, Session), with a 'login' entry
    in the session's transaction. The try is counted before the password is
    checked (login_throttle.reserve); a wrong password writes 'login.failed';
    a delayed try (429) never reaches the password check and writes nothing.
    An account with two-factor also needs `otp` (app.services.two_factor,
    throttled on a key of its own; settings and clock are for it)."""
    now = clock.utcnow() if clock else None
    login_throttle.reserve(email, ip, now)
    # Outside the transaction: the ~0.1 s password hash must not hold the
    # write lock, and the counted try must survive the 401.
    user = auth.authenticate(email, password)
    if user is None:
        record_failed_login(email, ip)
        raise ApiError(401, 'wrong email or password')
    login_throttle.succeeded(email, ip)
    two_factor.check_login(settings, user, otp, clock, ip)
    return open_session(user, ip, start)


def open_session(user, ip=None, start=None):
    """Start a session (as `start`, an auth.SessionStart) for a user who has
    proved who they are."""
    with database.atomic():
        audit.record('login', user, ip=ip)
        token, session = auth.start_session(user, start)
    return user, token, session


def record_failed_login(email, ip):
    """The 'login.failed' audit entry of a wrong password for `email`. The
    try itself is counted by login_throttle.reserve, before the check."""
    account = User.by_email(email)
    if account is None:
        audit.record('login.failed', None, ip=ip)
        return
    patient_id = account.id if account.role == 'patient' else None
    audit.record('login.failed', None, patient_id, f'user:{account.id}', ip)


def change_password(user, data, keep_token_hash, ip=None):
    """Set a new password once the current one is given; every other session
    of the account ends (the caller's, `keep_token_hash`, stays). A wrong
    current password counts as a failed login (throttled like one: 429 while
    delayed) and is a 400 naming the field."""
    current = data.get('current_password')
    if not isinstance(current, str) or not current or len(current) > 256:
        raise bad_request('current_password', 'is required')
    new = validate.password(data, 'new_password')
    login_throttle.reserve(user.email, ip)
    if auth.authenticate(user.email, current) is None:
        record_failed_login(user.email, ip)
        raise bad_request('current_password', 'is not your current password')
    login_throttle.succeeded(user.email, ip)
    with database.atomic():
        (User.update(password_hash=hash_password(new))
         .where(User.id == user.id)
         .execute())
        session_cache.end_other_sessions(user.id, keep_token_hash)
        audit.record('password.change', user, target=f'user:{user.id}', ip=ip)


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


def get_doctor(doctor_id, active_only=False):
    query = User.select().where(User.id == doctor_id, User.role == 'doctor')
    if active_only:
        query = query.where(User.active == True)  # noqa: E712
    doctor = query.first()
    if doctor is None:
        raise not_found('doctor not found')
    return doctor


def get_patient(patient_id):
    patient = User.get_or_none((User.id == patient_id) & (User.role == 'patient'))
    if patient is None:
        raise not_found('patient not found')
    return patient


def list_patients(search=None, limit=100, offset=0, doctor_id=None):
    """(total, one page of patients) by name, found by the words of
    `search` (app.services.patient_search); with `doctor_id`, only those
    who have an appointment with that doctor."""
    query = (User.select()
             .where(User.role == 'patient')
             .order_by(User.name, User.id))
    if doctor_id is not None:
        query = query.where(User.id.in_(Appointment.select(Appointment.patient)
                                        .where(Appointment.doctor == doctor_id)))
    if search:
        query = patient_search.matching(query, search)
    return query.count(), list(query.limit(limit).offset(offset))


def list_doctors(limit=100, offset=0, include_inactive=False):
    """Bookable doctors; staff may ask for those who left too."""
    query = User.doctors()
    if include_inactive:
        query = (User.select()
                 .where(User.role == 'doctor')
                 .order_by(User.active.desc(), User.name, User.id))
    return query.count(), list(query.limit(limit).offset(offset))
