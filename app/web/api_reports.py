"""Scheduled report endpoints (SPEC §4, §6), admin only: definitions, "Run
now", "Send test", the execution history and its files.

PUT changes the fields it is given and keeps the others, so `{"active":
false}` pauses a report. `weekday` is 0 (Monday) .. 6 (Sunday); `day` is
1..31, run on the month's last day in shorter months.
"""
import bottle

import tasks
from app.services import report_runs, report_writers, reports
from app.web.base import (client_ip, clock, current_user, json_body, json_response, paging,
                          page_of, settings)

ADMIN = ('admin',)
REPORT = '/api/reports/<report_id:int>'
EXECUTION = REPORT + '/executions/<execution_id:int>'


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
]
