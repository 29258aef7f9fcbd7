"""Accounts: register, log in and out, who am I, the reminder setting, and
the signed unsubscribe links from reminder emails, as JSON and as pages."""
import bottle

from app import auth, validate
from app.errors import ApiError, bad_request, not_found
from app.services import accounts, password_links, reminders, two_factor
from app.web.base import client_ip, clock, current_session, current_user, current_user_row, \
    json_body, json_response, own_session_tokens, query_params, session_start, settings
from app.web.forms import field_errors, form, form_failure, home_for, page, redirect_with, \
    safe_next
from app.web.templating import render


# The login form's second step (app.web.two_factor) finds its login by this.
PENDING_COOKIE = 'clinicdesk_2fa'


def set_session_cookie(token):
    bottle.response.set_cookie(
        auth.SESSION_COOKIE, token, path='/', httponly=True, samesite='Lax',
        secure=settings().secure_cookies,
        max_age=int(settings().session_max_age.total_seconds()))


def login_user(user):
    token, session = auth.start_session(user, session_start())
    set_session_cookie(token)
    return session


def register():
    user = accounts.register_patient(json_body())
    session = login_user(user)
    return json_response({'user': user.public(), 'csrf_token': session.csrf_token}, status=201)


def login():
    data = json_body()
    email = validate.email(data)
    password = data.get('password')
    if not isinstance(password, str) or not password or len(password) > 256:
        raise ApiError(400, 'password: is required')
    user, token, session = accounts.log_in(email, password, client_ip(), data.get('otp'),
                                           settings(), clock(), session_start())
    set_session_cookie(token)
    return json_response({'user': user.public(), 'csrf_token': session.csrf_token})


def end_own_sessions():
    """Logout: end every session cookie of the requester it carries, and
    clear the cookie whatever state those sessions were in."""
    for token in own_session_tokens():
        accounts.log_out(token, client_ip())
    bottle.response.delete_cookie(auth.SESSION_COOKIE, path='/')


def logout():
    end_own_sessions()
    return {'status': 'logged out'}


def me():
    session = current_session()
    return {'user': session.user.public(), 'csrf_token': session.csrf_token}


def set_reminders():
    enabled = validate.boolean(json_body(), 'enabled')
    user = current_user_row()
    accounts.set_reminders(user, enabled)
    return {'user': user.public()}


def root():
    bottle.redirect(home_for(current_user()))


def login_page():
    user = current_user()
    next_url = safe_next(query_params().get('next'))
    if user:
        bottle.redirect(next_url or home_for(user))
    return page('login.html', next=next_url)


def login_submit():
    data = form('email', 'password', 'next')
    next_url = safe_next(data['next'])
    try:
        email = validate.email(data)
        if not data['password']:
            raise bad_request('password', 'is required')
        user, token, _ = accounts.log_in(email, data['password'][:256], client_ip(),
                                         settings=settings(), clock=clock(),
                                         start=session_start())
    except two_factor.CodeNeeded as exc:
        return ask_for_code(exc.user, next_url)
    except ApiError as exc:
        return form_failure(exc, 'login.html', {'form': {'email': data['email']},
                                                'next': next_url})
    set_session_cookie(token)
    bottle.redirect(next_url or home_for(user))


def ask_for_code(user, next_url):
    """A correct password of an account with two-factor: remember the login
    for a few minutes by a cookie (the password is not sent again) and ask
    for the code."""
    token = two_factor.start_pending_login(user, clock())
    bottle.response.set_cookie(
        PENDING_COOKIE, token, path='/login', httponly=True, samesite='Lax',
        secure=settings().secure_cookies,
        max_age=int(two_factor.PENDING_LIFETIME.total_seconds()))
    return page('login_code.html', next=next_url)


def reset_page():
    token = query_params().get('token', '')
    try:
        account = password_links.check(token, clock().utcnow())
    except ApiError as exc:
        bottle.response.status = exc.status
        return page('reset.html', account=None, errors=field_errors(exc))
    return page('reset.html', account=account, token=token)


def reset_submit():
    data = form('token', 'password')
    try:
        user = password_links.redeem(data['token'], data, clock().utcnow())
    except ApiError as exc:
        if exc.field == 'token':
            bottle.response.status = exc.status
            return page('reset.html', account=None, errors=field_errors(exc))
        return form_failure(exc, 'reset.html', {
            'account': password_links.check(data['token'], clock().utcnow()),
            'token': data['token']})
    redirect_with('/login', f'Your password is set. Log in as {user.email}.')


def register_page():
    user = current_user()
    if user:
        bottle.redirect(home_for(user))
    return page('register.html')


def register_submit():
    data = form('name', 'email', 'phone', 'password')
    try:
        user = accounts.register_patient(data)
    except ApiError as exc:
        return form_failure(exc, 'register.html', {'form': {**data, 'password': ''}})
    login_user(user)
    redirect_with('/patient', f'Welcome, {user.name}. Your account is ready.')


def logout_submit():
    end_own_sessions()
    redirect_with('/login', 'You are logged out.')


def reminders_submit():
    enabled = form('enabled')['enabled'] == 'on'
    accounts.set_reminders(current_user_row(), enabled)
    redirect_with('/patient#reminders', 'Reminder emails are on.' if enabled
                  else 'Reminder emails are off. You can turn them on again at any time.')


def _linked_patient(patient_id, signature):
    patient = reminders.patient_for_link(settings(), patient_id, signature)
    if patient is None:
        raise not_found('this unsubscribe link is not valid; log in to turn reminders off')
    return patient


def unsubscribe_page(patient_id, signature):
    patient = _linked_patient(patient_id, signature)
    return render('unsubscribe.html', patient=patient, done=False,
                  action=bottle.request.path)


def unsubscribe_submit(patient_id, signature):
    # Also the RFC 8058 one-click POST a mail client sends
    # (body List-Unsubscribe=One-Click): no session, no CSRF token; the
    # signature in the URL is the authorisation.
    patient = _linked_patient(patient_id, signature)
    reminders.unsubscribe(patient)
    return render('unsubscribe.html', patient=patient, done=True, action=bottle.request.path)


ANYONE, USER, PATIENT = None, 'user', ('patient',)

ROUTES = [
    # Before a session there is no token to send: the origin is checked.
    ('POST', '/api/register', register, ANYONE, {'csrf': 'origin'}),
    ('POST', '/api/login', login, ANYONE, {'csrf': 'origin'}),
    ('POST', '/api/logout', logout, USER, {'enrolment': True}),
    ('GET', '/api/me', me, USER, {'enrolment': True}),
    ('PUT', '/api/me/reminders', set_reminders, PATIENT, {}),
    ('GET', '/', root, ANYONE, {}),
    ('GET', '/login', login_page, ANYONE, {}),
    ('GET', '/reset', reset_page, ANYONE, {}),
    ('POST', '/reset', reset_submit, ANYONE, {}),
    ('POST', '/login', login_submit, ANYONE, {'csrf': 'origin'}),
    ('GET', '/register', register_page, ANYONE, {}),
    ('POST', '/register', register_submit, ANYONE, {'csrf': 'origin'}),
    # Anyone: an expired session still gets a clean way out.
    ('POST', '/logout', logout_submit, ANYONE, {}),
    ('POST', '/patient/reminders', reminders_submit, PATIENT, {}),
    ('GET', '/unsubscribe/<patient_id:int>/<signature>', unsubscribe_page, ANYONE, {}),
    ('POST', '/unsubscribe/<patient_id:int>/<signature>', unsubscribe_submit, ANYONE,
     {'csrf': False}),
]
