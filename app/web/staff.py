"""Staff accounts (SPEC §9): the admin invites reception and admin accounts,
renames them, deactivates them and sends an invitation again, as JSON and
as /admin/staff."""
import bottle

import tasks
from app.errors import ApiError
from app.services import staff
from app.web import login_locks
from app.web.base import client_ip, current_user, json_body, json_response, page_of, paging, \
    query_params, settings
from app.web.forms import FORM_STATUSES, field_errors, form, offset_param, page, pager, \
    redirect_with

STAFF_PAGE = 50


def create_staff():
    user = staff.create(settings(), current_user(), json_body(), client_ip())
    tasks.queue_delivery()
    return json_response(staff.public(user), status=201)


def list_staff():
    limit, offset = paging()
    total, accounts = staff.page(limit, offset)
    return page_of([staff.public(a) for a in accounts], total, limit, offset)


def update_staff(staff_id):
    return staff.public(staff.update(current_user(), staff_id, json_body(), client_ip()))


def list_context(form_data=None, errors=None):
    errors = dict(errors or {})
    try:
        offset = offset_param(query_params(), 'offset')
    except ApiError as exc:
        errors.update(field_errors(exc))
        offset = 0
    total, accounts = staff.page(STAFF_PAGE, offset)
    return {'accounts': accounts, 'me': current_user(), 'roles': staff.ROLES,
            'form': form_data or {'role': 'reception'}, 'errors': errors,
            'staff_pager': pager(total, STAFF_PAGE, offset, 'offset', '#staff')}


def staff_page():
    context = list_context()
    if context['errors']:
        bottle.response.status = 400
    return page('admin_staff.html', **context)


def invite_submit():
    data = form('name', 'email', 'role')
    try:
        user = staff.create(settings(), current_user(), data, client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return page('admin_staff.html', **list_context(data, field_errors(exc)))
    tasks.queue_delivery()
    redirect_with('/admin/staff#staff', f'Invited {user.name} ({user.role}): an email with a '
                                        f'link to choose a password is on its way to {user.email}.')


def member_context(account, form_data=None, errors=None):
    return {'account': account, 'me': current_user(), 'errors': errors or {},
            'form': form_data or {'name': account.name, 'active': account.active},
            'login_delayed_until': login_locks.delay_for(account)}


def member_page(staff_id):
    return page('admin_staff_member.html', **member_context(staff.get(staff_id)))


def edit_submit(staff_id):
    data = form('name')
    data['active'] = bottle.request.forms.get('active') == 'on'
    try:
        account = staff.update(current_user(), staff_id, data, client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return page('admin_staff_member.html',
                    **member_context(staff.get(staff_id), data, field_errors(exc)))
    message = f'Saved {account.name}.'
    if not account.active:
        message += ' The account is inactive: it cannot log in, and its sessions have ended.'
    redirect_with(f'/admin/staff/{account.id}', message)


def invite_again_submit(staff_id):
    try:
        account = staff.invite_again(settings(), current_user(), staff_id, client_ip())
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return page('admin_staff_member.html', **member_context(staff.get(staff_id),
                                                                errors=field_errors(exc)))
    tasks.queue_delivery()
    redirect_with(f'/admin/staff/{account.id}',
                  f'A new invitation is on its way to {account.email}. '
                  'Links sent before it no longer work.')


ADMIN = ('admin',)

ROUTES = [
    ('POST', '/api/staff', create_staff, ADMIN, {}),
    ('GET', '/api/staff', list_staff, ADMIN, {}),
    ('PUT', '/api/staff/<staff_id:int>', update_staff, ADMIN, {}),
    ('GET', '/admin/staff', staff_page, ADMIN, {}),
    ('POST', '/admin/staff', invite_submit, ADMIN, {}),
    ('GET', '/admin/staff/<staff_id:int>', member_page, ADMIN, {}),
    ('POST', '/admin/staff/<staff_id:int>', edit_submit, ADMIN, {}),
    ('POST', '/admin/staff/<staff_id:int>/invitation', invite_again_submit, ADMIN, {}),
]
