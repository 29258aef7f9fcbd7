"""Staff two-factor: enrol, confirm and turn off (JSON and the account page
with its QR code), and the login form's second step, which finds the login
waiting for a code by a short-lived cookie instead of the password."""
import bottle
from markupsafe import Markup

from app.errors import ApiError
from app.services import accounts, two_factor
from app.web.accounts import PENDING_COOKIE, set_session_cookie
from app.web.base import client_ip, clock, cookie, current_user, json_body, query_params, \
    session_start, settings
from app.web.forms import form, form_failure, home_for, page, redirect_with, safe_next

ACCOUNT_PAGE = '/account/2fa'


def _code(data):
    code = data.get('code')
    if not isinstance(code, str) or not code.strip():
        raise ApiError(400, 'code: is required', field='code')
    return code


def enrol():
    return two_factor.enrol(settings(), current_user(), clock(), client_ip())


def confirm():
    codes = two_factor.confirm(settings(), current_user(), _code(json_body()), clock(),
                               client_ip())
    return {'recovery_codes': codes}


def disable():
    two_factor.disable(settings(), current_user(), _code(json_body()), clock(), client_ip())
    return {'two_factor': False}


def qr_svg(uri):
    """The otpauth URI as an inline SVG QR code, drawn here: segno's output
    holds only drawing commands, no text, so it is safe to embed."""
    import segno  # here: 8 MB that only the enrolment page needs (SPEC P6)

    return Markup(segno.make(uri, error='m').svg_inline(scale=5, border=2))


def _account_context():
    user = current_user()
    state = two_factor.state(settings(), user)
    if state.get('otpauth_uri'):
        state['qr'] = qr_svg(state['otpauth_uri'])
    return {'state': state, 'home': home_for(user),
            'forced': settings().staff_2fa == 'required' and state['status'] != 'on'}


def account_page():
    return page('account_2fa.html', **_account_context())


def start_submit():
    two_factor.enrol(settings(), current_user(), clock(), client_ip())
    bottle.redirect(ACCOUNT_PAGE + '#confirm')


def confirm_submit():
    data = form('code')
    try:
        codes = two_factor.confirm(settings(), current_user(), _code(data), clock(), client_ip())
    except ApiError as exc:
        return form_failure(exc, 'account_2fa.html', _account_context())
    # Shown on this answer only (no redirect): they are stored nowhere readable.
    return page('account_2fa.html', **_account_context(), recovery_codes=codes)


def disable_submit():
    data = form('code')
    try:
        two_factor.disable(settings(), current_user(), _code(data), clock(), client_ip())
    except ApiError as exc:
        return form_failure(exc, 'account_2fa.html', _account_context())
    redirect_with(ACCOUNT_PAGE, 'Two-factor sign-in is off.')


def code_page():
    if two_factor.pending_login_user(cookie(PENDING_COOKIE), clock()) is None:
        bottle.redirect('/login')
    return page('login_code.html', next=safe_next(query_params().get('next')))


def code_submit():
    data = form('otp', 'next')
    next_url = safe_next(data['next'])
    token = cookie(PENDING_COOKIE)
    user = two_factor.pending_login_user(token, clock())
    if user is None:
        redirect_with('/login', 'That took too long; please log in again.')
    try:
        two_factor.check_login(settings(), user, data['otp'], clock(), client_ip())
    except ApiError as exc:
        return form_failure(exc, 'login_code.html', {'next': next_url})
    two_factor.end_pending_login(token)
    bottle.response.delete_cookie(PENDING_COOKIE, path='/login')
    _, session_token, _ = accounts.open_session(user, client_ip(), session_start())
    set_session_cookie(session_token)
    bottle.redirect(next_url or home_for(user))


ANYONE, STAFF = None, two_factor.STAFF_ROLES
# enrolment=True: open to staff who STAFF_2FA=required still makes enrol.
ENROLMENT = {'enrolment': True}

ROUTES = [
    ('POST', '/api/me/2fa', enrol, STAFF, ENROLMENT),
    ('POST', '/api/me/2fa/confirm', confirm, STAFF, ENROLMENT),
    ('DELETE', '/api/me/2fa', disable, STAFF, ENROLMENT),
    ('GET', ACCOUNT_PAGE, account_page, STAFF, ENROLMENT),
    ('POST', ACCOUNT_PAGE + '/start', start_submit, STAFF, ENROLMENT),
    ('POST', ACCOUNT_PAGE + '/confirm', confirm_submit, STAFF, ENROLMENT),
    ('POST', ACCOUNT_PAGE + '/disable', disable_submit, STAFF, ENROLMENT),
    ('GET', '/login/code', code_page, ANYONE, {}),
    # As /login: no session yet, so the origin is checked; the pending
    # cookie is SameSite=Lax too, so a cross-site post arrives without it.
    ('POST', '/login/code', code_submit, ANYONE, {'csrf': 'origin'}),
]
