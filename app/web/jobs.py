"""Background jobs: run a job now, follow a task, and the admin's status
page with its actions (run now, pause, resume, retry, resolve an incident),
as JSON and as /admin/status."""
import re

from huey.exceptions import TaskException

import tasks
from app.redis_errors import unreachable
from app.errors import ApiError, QueueUnavailable, not_found
from app.queue import huey
from app.services import incidents, periodic, status, task_control
from app.web.base import client_ip, clock, current_user, json_body, json_response, settings
from app.web.forms import page, redirect_with
from app.web.templating import job_label

TASK_ID_RE = re.compile(r'^[0-9A-Za-z_.:-]{1,100}$')
TASK_ID = '<task_id:re:[0-9A-Za-z_.:-]{1,100}>'
JOB_NAME = '<name:re:[a-z_][a-z0-9_]{0,99}>'
STATUS_PAGE = '/admin/status'


def run_job(name):
    result, argument = tasks.run_job_now(name, json_body(), clock().today())
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
    status_now = 'running' if status.is_running(huey, task_id) else 'pending'
    return {'task_id': task_id, 'status': status_now, 'result': None, 'error': None}


def admin_status():
    return status.snapshot(settings(), clock(), huey)


def _periodic_item(name):
    for item in status.periodic(settings(), clock(), huey, clock().now()):
        if item['name'] == name:
            return item
    raise not_found('periodic job not found')


def pause_job(name):
    task_control.set_paused(huey, name, True, by=current_user().email)
    return _periodic_item(name)


def resume_job(name):
    task_control.set_paused(huey, name, False, by=current_user().email)
    return _periodic_item(name)


def retry_task(task_id):
    task = task_control.retry(huey, task_id)
    return json_response({'task_id': task.id, 'status_url': f'/api/tasks/{task.id}'},
                         status=202)


def resolve_incident(incident_id):
    incident = incidents.resolve_by(current_user(), incident_id, client_ip())
    return incidents.to_json(incident, clock())


def run_now(name):
    """Queue periodic job `name` now; the task id. A clinic-time job runs
    its on-demand twin (today's reminders, last month's reports) the way
    POST /api/jobs/<name>/run does; any other periodic task runs as is."""
    if name in tasks.ON_DEMAND:
        return tasks.run_job_now(name, {}, clock().today())[0].id
    task_class = huey.periodic_classes.get(name)
    if task_class is None:
        raise not_found('periodic job not found')
    task = task_class()
    huey.enqueue(task)
    return task.id


def status_page():
    return page('admin_status.html', status=status.snapshot(settings(), clock(), huey))


def status_fragment():
    """The page's board alone: status.js polls it and swaps it in."""
    return page('partials/status_board.html', status=status.snapshot(settings(), clock(), huey))


def _form_action(act, done_message):
    """Do `act`, then back to the page with what happened."""
    try:
        act()
    except unreachable():
        message = QueueUnavailable().message
    except ApiError as exc:
        message = exc.message
    else:
        message = done_message
    redirect_with(STATUS_PAGE, message[:1].upper() + message[1:].rstrip('.') + '.')


def run_submit(name):
    busy = periodic.running_now(name, clock().today()) if name in tasks.ON_DEMAND else None
    if busy is not None:
        since = clock().localize(busy.started_at).strftime('%H:%M')
        redirect_with(STATUS_PAGE, f'{job_label(name)} is running already (since {since}); '
                                   'it was not queued again.')
    _form_action(lambda: run_now(name), f'{job_label(name)} queued to run now.')


def resolve_submit(incident_id):
    _form_action(lambda: incidents.resolve_by(current_user(), incident_id, client_ip()),
                 'Incident resolved; a new one is opened if the trouble comes back.')


def pause_submit(name):
    _form_action(lambda: task_control.set_paused(huey, name, True, by=current_user().email),
                 f'{job_label(name)} paused: it will not run on its schedule until resumed.')


def resume_submit(name):
    _form_action(lambda: task_control.set_paused(huey, name, False, by=current_user().email),
                 f'{job_label(name)} resumed.')


def retry_submit(task_id):
    _form_action(lambda: task_control.retry(huey, task_id),
                 'Task queued to run again with the same arguments.')


ADMIN = ('admin',)

ROUTES = [
    ('POST', '/api/jobs/<name>/run', run_job, ADMIN, {}),
    ('GET', '/api/tasks/<task_id>', task_status, ADMIN, {}),
    ('GET', '/api/admin/status', admin_status, ADMIN, {}),
    ('POST', f'/api/jobs/{JOB_NAME}/pause', pause_job, ADMIN, {}),
    ('POST', f'/api/jobs/{JOB_NAME}/resume', resume_job, ADMIN, {}),
    ('POST', f'/api/tasks/{TASK_ID}/retry', retry_task, ADMIN, {}),
    ('POST', '/api/incidents/<incident_id:int>/resolve', resolve_incident, ADMIN, {}),
    ('GET', STATUS_PAGE, status_page, ADMIN, {}),
    ('GET', STATUS_PAGE + '/fragment', status_fragment, ADMIN, {}),
    ('POST', STATUS_PAGE + f'/jobs/{JOB_NAME}/run', run_submit, ADMIN, {}),
    ('POST', STATUS_PAGE + f'/jobs/{JOB_NAME}/pause', pause_submit, ADMIN, {}),
    ('POST', STATUS_PAGE + f'/jobs/{JOB_NAME}/resume', resume_submit, ADMIN, {}),
    ('POST', STATUS_PAGE + f'/tasks/{TASK_ID}/retry', retry_submit, ADMIN, {}),
    ('POST', STATUS_PAGE + '/incidents/<incident_id:int>/resolve', resolve_submit, ADMIN, {}),
]
