"""A forgotten password (SPEC §10): ask for a reset link by email, and set
the new password with it, as JSON and as /forgot (the /reset page is the
one invitations use, in app.web.accounts)."""
import time

import tasks
from app import validate
from app.errors import ApiError
from app.services import login_throttle, password_links
from app.web.base import client_ip, clock, json_body, json_response, settings
from app.web.forms import form, form_failure, page

SENT = ('If an account uses this email, a link to choose a new password is on its way. '
        'It works once, for one hour.')
# Every answer to a reset request takes at least this long, whether an email
# was written and queued or not, so timing does not tell who has an account.
ANSWER_SECONDS = 0.3


def _request_reset(email):
    login_throttle.reserve_reset_request(client_ip(), clock().utcnow())
    started = time.monotonic()
    if password_links.request_reset(settings(), email, clock().utcnow()):
        tasks.queue_delivery()
    time.sleep(max(0.0, started + ANSWER_SECONDS - time.monotonic()))


def forgot():
    _request_reset(validate.email(json_body()))
    return json_response({'status': SENT}, status=202)


def reset():
    data = json_body()
    password_links.redeem(data.get('token'), data, clock().utcnow())
    return {'status': 'Your password is set; every session of the account has ended. '
                      'Log in with the new password.'}


def forgot_page():
    return page('forgot.html', sent=False)


def forgot_submit():
    data = form('email')
    try:
        _request_reset(validate.email(data))
    except ApiError as exc:
        return form_failure(exc, 'forgot.html', {'form': data, 'sent': False})
    return page('forgot.html', sent=True, message=SENT)


ANYONE = None

ROUTES = [
    # No session yet whose CSRF token a request could carry; the emailed
    # token is what authorises a reset.
    ('POST', '/api/password/forgot', forgot, ANYONE, {'csrf': False}),
    ('POST', '/api/password/reset', reset, ANYONE, {'csrf': False}),
    ('GET', '/forgot', forgot_page, ANYONE, {}),
    ('POST', '/forgot', forgot_submit, ANYONE, {'csrf': False}),
]
