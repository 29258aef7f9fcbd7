"""The signed-in user's own account (SPEC §10): change the password, see
their sessions and sign out everywhere else, as JSON and as /account."""
from app.errors import ApiError
from app.services import accounts, sessions
from app.web.base import client_ip, clock, current_session, current_user_row, json_body, \
    page_of, paging, settings
from app.web.forms import form, form_failure, page, redirect_with

CHANGED = 'Your password is changed. Every other session of your account has ended.'


def _session_items():
    config, session, now = settings(), current_session(), clock().utcnow()
    rows = sessions.live_for(session.user.id, now, config.session_idle, config.session_max_age)
    return [{'id': sessions.public_id(row.token_hash),
             'created_at': clock().iso(row.created_at),
             'last_seen_at': clock().iso(row.last_seen_at),
             'client_address': row.client_address,
             'user_agent': row.user_agent,
             'current': row.token_hash == session.token_hash} for row in rows]


def list_sessions():
    limit, offset = paging()
    items = _session_items()
    return page_of(items[offset:offset + limit], len(items), limit, offset)


def end_other_sessions():
    session = current_session()
    return {'ended': sessions.end_others(session.user.id, session.token_hash)}


def change_password():
    accounts.change_password(current_user_row(), json_body(), current_session().token_hash,
                             client_ip())
    return {'status': CHANGED}


def account_page():
    return page('account.html', sessions=_session_items())


def password_submit():
    data = form('current_password', 'new_password')
    try:
        accounts.change_password(current_user_row(), data, current_session().token_hash,
                                 client_ip())
    except ApiError as exc:
        return form_failure(exc, 'account.html', {'sessions': _session_items()})
    redirect_with('/account', CHANGED)


def sessions_submit():
    ended = end_other_sessions()['ended']
    redirect_with('/account#sessions', f'Signed out everywhere else ({ended} other '
                                       f'session{"" if ended == 1 else "s"} ended).')


USER = 'user'

ROUTES = [
    ('GET', '/api/me/sessions', list_sessions, USER, {}),
    ('DELETE', '/api/me/sessions', end_other_sessions, USER, {}),
    ('PUT', '/api/me/password', change_password, USER, {}),
    ('GET', '/account', account_page, USER, {}),
    ('POST', '/account/password', password_submit, USER, {}),
    ('POST', '/account/sessions/end-others', sessions_submit, USER, {}),
]
