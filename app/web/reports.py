"""Scheduled reports (SPEC §4, §6), admin only: definitions, "Run now",
"Send test", the execution history and its files, as JSON under /api/reports
and as the /admin/reports pages. Forms post to the pages and redirect
(POST-redirect-GET); a bad value re-renders the form with the message next
to its field. static/reports.js keeps the execution history live.

PUT changes the fields it is given and keeps the others, so `{"active":
false}` pauses a report. `weekday` is 0 (Monday) .. 6 (Sunday); `day` is
1..31, run on the month's last day in shorter months.
"""
import re

import bottle

import tasks
from app.errors import ApiError
from app.services import report_runs, report_writers, reports
from app.web.base import client_ip, clock, current_user, json_body, json_response, paging, \
    page_of, settings
from app.web.forms import FORM_STATUSES, form, page, redirect_with
from app.web.forms import field_errors as first_error

ADMIN = ('admin',)
REPORT = '/api/reports/<report_id:int>'
EXECUTION = REPORT + '/executions/<execution_id:int>'
PAGE = '/admin/reports/<report_id:int>'
FIELDS = ('name', 'kind', 'frequency', 'weekday', 'day', 'time', 'recipients', 'format',
          'subject', 'body', 'active')
HISTORY_SHOWN = 50
RUN_LABELS = {'schedule': 'Scheduled', 'manual': 'Run now', 'test': 'Test'}
NEW_REPORT = {'kind': 'appointments', 'frequency': 'daily', 'weekday': '0', 'day': '1',
              'time': '07:00', 'format': 'csv', 'active': True, 'recipients': ''}


def list_reports():
    limit, offset = paging()
    total, items = reports.page(limit, offset)
    last = reports.latest_executions(items)
    now = clock()
    return page_of([reports.to_json(r, now, last.get(r.id)) for r in items],
                   total, limit, offset)


def create_report():
    now = clock()
    report = reports.create(current_user(), json_body(), now.now(), now.tz)
    return json_response(reports.to_json(report, now), status=201)


def show_report(report_id):
    report = reports.get(report_id)
    return reports.to_json(report, clock(), reports.latest_executions([report]).get(report.id))


def update_report(report_id):
    report = reports.get(report_id)
    now = clock()
    report = reports.update(report, json_body(), now.now(), now.tz)
    return reports.to_json(report, now, reports.latest_executions([report]).get(report.id))


def delete_report(report_id):
    report_runs.delete_report(settings(), reports.get(report_id))
    return {'deleted': report_id}


def _start(report_id, triggered_by):
    report = reports.get(report_id)
    execution = report_runs.start(report, triggered_by, current_user(), clock())
    tasks.queue_report(execution)
    return json_response({'task_id': execution.task_id, 'execution_id': execution.id},
                         status=202)


def run_report(report_id):
    return _start(report_id, 'manual')


def test_report(report_id):
    return _start(report_id, 'test')


def list_executions(report_id):
    # SPEC §6 shows a bare list here, newest first; ?limit / ?offset page it.
    report = reports.get(report_id)
    limit, offset = paging()
    now = clock()
    items = report_runs.history(report, limit, offset)
    for execution in items:
        execution.report = report
    return [report_runs.to_json(execution, now) for execution in items]


def show_execution(report_id, execution_id):
    execution = report_runs.get(reports.get(report_id), execution_id)
    return report_runs.to_json(execution, clock())


def download_execution(report_id, execution_id):
    execution, path = report_runs.download(current_user(), report_id, execution_id, settings(),
                                           client_ip(), head=bottle.request.method == 'HEAD')
    response = bottle.static_file(path.name, root=str(path.parent),
                                  mimetype=report_writers.MEDIA_TYPES[execution.report.format],
                                  download=report_runs.download_name(execution))
    response.set_header('Cache-Control', 'private, no-store')
    return response


def _choices():
    return {'kinds': [(kind, reports.KIND_LABELS[kind]) for kind in reports.KINDS],
            'frequencies': reports.FREQUENCIES, 'formats': reports.FORMATS,
            'weekdays': list(enumerate(reports.WEEKDAYS)), 'tz': clock().tz.key}


def _submitted():
    """The form as the API body: recipients split into a list, `active` a
    flag, empty weekday/day left out."""
    data = form(*FIELDS)
    data['active'] = data['active'] == 'on'
    data['recipients'] = [part for part in re.split(r'[\s,;]+', data['recipients']) if part]
    for field in ('weekday', 'day'):
        if not data[field].strip():
            data.pop(field)
    return data


def _shown(data):
    """What the form shows again after an error."""
    return {**data, 'recipients': '\n'.join(data.get('recipients') or [])}


def _as_form(report):
    return _shown({**reports.editable(report),
                   'weekday': '' if report.weekday is None else str(report.weekday),
                   'day': '' if report.day is None else str(report.day)})


def field_errors(exc):
    """Every bad field of a definition, else the one the error names."""
    return dict(getattr(exc, 'errors', None) or first_error(exc))


def _next_run(report):
    return clock().localize(report.next_run_at)


def list_context(form_data=None, errors=None):
    _, items = reports.page(1000, 0)
    last = reports.latest_executions(items)
    rows = [{'report': r, 'next_run': _next_run(r), 'last': last.get(r.id),
             'schedule': reports.describe_schedule(r),
             'kind_label': reports.KIND_LABELS[r.kind],
             'recipients': len(reports.recipients_of(r))} for r in items]
    return {'rows': rows, 'form': form_data or NEW_REPORT, 'errors': errors or {},
            **_choices()}


def list_page():
    return page('admin_reports.html', **list_context())


def create_submit():
    data = _submitted()
    now = clock()
    try:
        report = reports.create(current_user(), data, now.now(), now.tz)
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        return page('admin_reports.html', **list_context(_shown(data), field_errors(exc)))
    redirect_with(f'/admin/reports/{report.id}', f'Report “{report.name}” created. '
                                                 + _next_run_sentence(report))


def _next_run_sentence(report):
    when = _next_run(report)
    if when is None:
        return 'It is paused.'
    return f'Next run: {when:%a} {when.day} {when:%b %Y} at {when:%H:%M}.'


def detail_context(report, form_data=None, errors=None):
    history = report_runs.history(report, HISTORY_SHOWN)
    for execution in history:
        execution.report = report
    now = clock()
    return {'report': report, 'next_run': _next_run(report),
            'schedule': reports.describe_schedule(report),
            'form': form_data or _as_form(report), 'errors': errors or {},
            'history': [report_runs.to_json(e, now) | {'row': e} for e in history],
            'run_labels': RUN_LABELS, 'period': _period, 'seconds': _seconds,
            **_choices()}


def _period(execution):
    return reports.period_label(execution.period_start, execution.period_end)


def _seconds(duration_ms):
    if duration_ms is None:
        return ''
    if duration_ms < 1000:
        return f'{duration_ms} ms'
    return f'{duration_ms / 1000:.1f} s' if duration_ms < 60000 else f'{duration_ms / 60000:.1f} min'


def detail_page(report_id):
    return page('admin_report.html', **detail_context(reports.get(report_id)))


def update_submit(report_id):
    report = reports.get(report_id)
    data = _submitted()
    now = clock()
    try:
        reports.update(report, data, now.now(), now.tz)
    except ApiError as exc:
        if exc.status not in FORM_STATUSES:
            raise
        bottle.response.status = exc.status
        report = reports.get(report_id)
        return page('admin_report.html', **detail_context(report, _shown(data),
                                                          field_errors(exc)))
    redirect_with(f'/admin/reports/{report.id}', 'Changes saved. ' + _next_run_sentence(report))


def active_submit(report_id):
    report = reports.get(report_id)
    active = form('active')['active'] == 'on'
    now = clock()
    reports.update(report, {'active': active}, now.now(), now.tz)
    message = (f'“{report.name}” resumed. ' + _next_run_sentence(report) if active
               else f'“{report.name}” paused: it will not run until you resume it.')
    back = '/admin/reports' if form('back')['back'] == 'list' else f'/admin/reports/{report.id}'
    redirect_with(back, message)


def delete_submit(report_id):
    report = reports.get(report_id)
    report_runs.delete_report(settings(), report)
    redirect_with('/admin/reports', f'Report “{report.name}” and its history were deleted.')


def _start_submit(report_id, triggered_by, message):
    report = reports.get(report_id)
    tasks.queue_report(report_runs.start(report, triggered_by, current_user(), clock()))
    redirect_with(f'/admin/reports/{report.id}#history', message)


def run_submit(report_id):
    return _start_submit(report_id, 'manual', 'Run started: the file goes to every recipient. '
                                              'Its status updates below.')


def test_submit(report_id):
    return _start_submit(report_id, 'test', f'Test run started: it is sent only to '
                                            f'{current_user().email}. Its status updates below.')


ROUTES = [
    ('GET', '/api/reports', list_reports, ADMIN, {}),
    ('POST', '/api/reports', create_report, ADMIN, {}),
    ('GET', REPORT, show_report, ADMIN, {}),
    ('PUT', REPORT, update_report, ADMIN, {}),
    ('DELETE', REPORT, delete_report, ADMIN, {}),
    ('POST', REPORT + '/run', run_report, ADMIN, {}),
    ('POST', REPORT + '/test', test_report, ADMIN, {}),
    ('GET', REPORT + '/executions', list_executions, ADMIN, {}),
    ('GET', EXECUTION, show_execution, ADMIN, {}),
    ('GET', EXECUTION + '/download', download_execution, ADMIN, {}),
    ('GET', '/admin/reports', list_page, ADMIN, {}),
    ('POST', '/admin/reports', create_submit, ADMIN, {}),
    ('GET', PAGE, detail_page, ADMIN, {}),
    ('POST', PAGE, update_submit, ADMIN, {}),
    ('POST', PAGE + '/active', active_submit, ADMIN, {}),
    ('POST', PAGE + '/delete', delete_submit, ADMIN, {}),
    ('POST', PAGE + '/run', run_submit, ADMIN, {}),
    ('POST', PAGE + '/test', test_submit, ADMIN, {}),
    # For links in emails: not logged in, the browser goes to the login page first.
    ('GET', PAGE + '/executions/<execution_id:int>/download',
     download_execution, ADMIN, {}),
]
