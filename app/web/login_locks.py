"""An admin clears the delay on an account's logins (SPEC §10): as JSON,
and as a button on the patient page and the staff member page."""
from app.errors import not_found
from app.models import User
from app.services import accounts, login_throttle, staff
from app.web.base import client_ip, clock, current_user, current_user_row
from app.web.forms import redirect_with


def _account(user_id):
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise not_found('account not found')
    return user


def delay_for(user):
    """When `user`'s logins are delayed until, in clinic time, for an admin
    viewing the account; None for anyone else or when there is no delay."""
    viewer = current_user()
    if viewer is None or viewer.role != 'admin':
        return None
    return clock().localize(login_throttle.delayed_until(user, clock().utcnow()))


def clear_lock(user_id):
    user = _account(user_id)
    login_throttle.clear(current_user_row(), user, client_ip())
    return {'status': 'cleared', 'user_id': user.id}


def _clear_and_return(user, back):
    login_throttle.clear(current_user_row(), user, client_ip())
    redirect_with(back, f'Cleared the delay on logins to {user.name}\'s account.')


def clear_patient_lock(patient_id):
    _clear_and_return(accounts.get_patient(patient_id), f'/patients/{patient_id}')


def clear_staff_lock(staff_id):
    _clear_and_return(staff.get(staff_id), f'/admin/staff/{staff_id}')


ADMIN = ('admin',)

ROUTES = [
    ('DELETE', '/api/admin/login-locks/<user_id:int>', clear_lock, ADMIN, {}),
    ('POST', '/patients/<patient_id:int>/login-lock', clear_patient_lock, ADMIN, {}),
    ('POST', '/admin/staff/<staff_id:int>/login-lock', clear_staff_lock, ADMIN, {}),
]
