"""Jobs, tasks, monthly reports, the outbox and unsubscribe links: JSON API
routes and the few pages that go with them."""
import re

from huey.exceptions import TaskException

import tasks
from app import validate
from app.errors import bad_request, not_found
from app.queue import huey
from app.schedule import month_key, previous_month
from app.services import status as status_service
from app.web.base import clock, json_body, json_response

TASK_ID_RE = re.compile(r'^[0-9A-Za-z_.:-]{1,100}$')


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


ANYONE = None
ADMIN = ('admin',)

ROUTES = [
    ('POST', '/api/jobs/<name>/run', run_job, ADMIN, {}),
    ('GET', '/api/tasks/<task_id>', task_status, ADMIN, {}),
]
