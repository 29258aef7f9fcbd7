"""Jobs, tasks, monthly reports, the outbox and unsubscribe links: JSON API
routes and the few pages that go with them."""
import re
from urllib.parse import urlencode

import bottle
import peewee
from huey.exceptions import TaskException

import tasks
from app import mail, validate
from app.errors import bad_request, not_found
from app.models import MonthlyReport, OutboxAttachment, OutboxMessage
from app.queue import huey
from app.schedule import month_key, previous_month
from app.services import monthly_reports, outbox
from app.services import status as status_service
from app.web.base import client_ip, clock, current_user, json_body, json_response, page_of, \
    paging, query_params, settings
from app.web.templating import environment, render

TASK_ID_RE = re.compile(r'^[0-9A-Za-z_.:-]{1,100}$')
OUTBOX_PAGE = 50
# The report HTML is ours and escaped; still, it may only style itself.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _reminders_day(body):
    today = clock().today()
    day = validate.date(body, 'date', required=False) or today
    if day < today:
        raise bad_request('date', 'must be today or later (reminders are for coming appointments)')
    return day.isoformat()


def _reports_month(body):
    today = clock().today()
    month = validate.month(body, 'month', required=False) or previous_month(today)
    if month >= month_key(today):
        raise bad_request('month', 'must be a month that has ended')
    return month


JOB_ARGUMENT = {'daily_reminders': _reminders_day, 'monthly_reports': _reports_month,
                'nightly_backup': lambda body: None}


def run_job(name):
    if name not in tasks.ON_DEMAND:
        raise not_found('job not found; jobs are ' + ', '.join(sorted(tasks.ON_DEMAND)))
    argument = JOB_ARGUMENT[name](json_body())
    result = tasks.ON_DEMAND[name](argument)
    return json_response({'task_id': result.id, 'job': name, 'argument': argument,
                          'status_url': f'/api/tasks/{result.id}'}, status=202)


def task_status(task_id):
    if not TASK_ID_RE.match(task_id):
        raise not_found('task not found')
    try:
        value = huey.result(task_id, preserve=True)
    except TaskException as exc:
        error = (exc.metadata or {}).get('error') or 'the task failed'
        return {'task_id': task_id, 'status': 'failed', 'result': None, 'error': error}
    if value is not None:
        return {'task_id': task_id, 'status': 'success', 'result': value, 'error': None}
    status = 'running' if status_service.is_running(huey, task_id) else 'pending'
    return {'task_id': task_id, 'status': status, 'result': None, 'error': None}


def list_monthly_reports():
    params = query_params()
    limit, offset = paging(params)
    query = monthly_reports.visible_to(current_user())
    month = validate.month(params, 'month', required=False)
    doctor_id = validate.identifier(params, 'doctor_id', required=False)
    if month:
        query = query.where(MonthlyReport.month == month)
    if doctor_id:
        query = query.where(MonthlyReport.doctor == doctor_id)
    items = [monthly_reports.to_json(r) for r in query.limit(limit).offset(offset)]
    return page_of(items, query.count(), limit, offset)


def monthly_report_page(report_id):
    html = monthly_reports.html_for(current_user(), report_id, client_ip())
    if html is None:
        raise not_found('report not found')
    bottle.response.set_header('Content-Security-Policy', REPORT_CSP)
    bottle.response.content_type = 'text/html; charset=utf-8'
    return html


def outbox_json(message):
    at = clock().iso
    return {'id': message.id, 'to': message.to, 'subject': message.subject,
            'status': mail.public_status(message.status), 'attempts': message.attempts,
            'created_at': at(message.created_at), 'sent_at': at(message.sent_at),
            'error': message.error}


def _outbox_query(params):
    query = (OutboxMessage
             .select(OutboxMessage.id, OutboxMessage.to, OutboxMessage.subject,
                     OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.created_at,
                     OutboxMessage.sent_at, OutboxMessage.error)
             .order_by(OutboxMessage.id.desc()))
    status = validate.choice(params, 'status', ('pending', 'sent', 'failed'), required=False)
    if status == 'pending':
        query = query.where(OutboxMessage.status.in_(('pending',) + mail.IN_FLIGHT))
    elif status:
        query = query.where(OutboxMessage.status == status)
    return query, status


def list_outbox():
    params = query_params()
    limit, offset = paging(params)
    query, _ = _outbox_query(params)
    items = [outbox_json(m) for m in query.limit(limit).offset(offset)]
    return page_of(items, query.count(), limit, offset)


def outbox_page():
    params = query_params()
    _, offset = paging(params)
    query, status = _outbox_query(params)
    messages = [outbox_json(m) for m in query.limit(OUTBOX_PAGE).offset(offset)]
    return render('outbox.html', messages=messages, status=status, counts=mail.counts(),
                  pager=_pager(query.count(), offset, len(messages), status),
                  smtp_host=settings().smtp_host, message=None)


def _pager(total, offset, shown, status):
    def link(at):
        query = {'offset': at, **({'status': status} if status else {})}
        return '/admin/outbox?' + urlencode(query)
    return {'total': total, 'first': offset + 1, 'last': offset + shown,
            'prev': link(max(0, offset - OUTBOX_PAGE)) if offset else None,
            'next': link(offset + OUTBOX_PAGE) if offset + shown < total else None}


def outbox_message_page(message_id):
    message = outbox.open_message(current_user(), message_id, client_ip())
    files = list(OutboxAttachment
                 .select(OutboxAttachment.id, OutboxAttachment.filename,
                         OutboxAttachment.content_type,
                         peewee.fn.LENGTH(OutboxAttachment.content).alias('size'))
                 .where(OutboxAttachment.message == message.id)
                 .order_by(OutboxAttachment.id))
    return render('outbox.html', message=message, summary=outbox_json(message),
                  headers=message.headers or {}, attachments=files,
                  smtp_host=settings().smtp_host)


def outbox_attachment(message_id, attachment_id):
    item = outbox.open_attachment(current_user(), message_id, attachment_id, client_ip(),
                                  head=bottle.request.method == 'HEAD')
    response = bottle.HTTPResponse(body=bytes(item.content))
    response.content_type = item.content_type
    name = re.sub(r'[^A-Za-z0-9._-]', '_', item.filename) or 'attachment'
    response.set_header('Content-Disposition', f'attachment; filename="{name}"')
    response.set_header('Cache-Control', 'no-store')
    return response


def monthly_reports_for(user):
    """For partials/doctor_reports.html on the doctor's page."""
    if user is None:
        return []
    reports = monthly_reports.visible_to(user).limit(24)
    return [{**monthly_reports.to_json(r), 'title': monthly_reports.month_title(r.month)}
            for r in reports]


environment.globals['monthly_reports_for'] = monthly_reports_for

ANYONE = None
ADMIN = ('admin',)
DOCTOR_OR_ADMIN = ('doctor', 'admin')

ROUTES = [
    ('POST', '/api/jobs/<name>/run', run_job, ADMIN, {}),
    ('GET', '/api/tasks/<task_id>', task_status, ADMIN, {}),
    ('GET', '/api/monthly-reports', list_monthly_reports, DOCTOR_OR_ADMIN, {}),
    ('GET', '/monthly-reports/<report_id:int>', monthly_report_page, DOCTOR_OR_ADMIN, {}),
    ('GET', '/api/outbox', list_outbox, ADMIN, {}),
    ('GET', '/admin/outbox', outbox_page, ADMIN, {}),
    ('GET', '/admin/outbox/<message_id:int>', outbox_message_page, ADMIN, {}),
    ('GET', '/admin/outbox/<message_id:int>/attachments/<attachment_id:int>',
     outbox_attachment, ADMIN, {}),
]
