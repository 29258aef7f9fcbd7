"""Jobs, tasks, monthly reports, the outbox and unsubscribe links: JSON API
routes and the few pages that go with them."""
import re

import bottle
from huey.exceptions import TaskException

import tasks
from app import validate
from app.errors import bad_request, not_found
from app.models import MonthlyReport
from app.queue import huey
from app.schedule import month_key, previous_month
from app.services import monthly_reports
from app.services import status as status_service
from app.web.base import client_ip, clock, current_user, json_body, json_response, page_of, \
    paging, query_params
from app.web.templating import environment

TASK_ID_RE = re.compile(r'^[0-9A-Za-z_.:-]{1,100}$')
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
]
