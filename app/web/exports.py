"""History export endpoints (SPEC §6): queue an export, poll its status,
download the file. /exports/<id>/download is the same download for links in
emails: a browser that is not logged in is sent to the login page first."""
import json

import bottle

import tasks
from app.services import exports
from app.web.base import client_ip, clock, current_user, json_body, json_response, settings

TASK_ID = '<task_id:re:[0-9A-Fa-f-]{1,64}>'


def create_export():
    export, created = exports.request_export(current_user(), json_body(), client_ip())
    if created:
        tasks.queue_export(export)
    return json_response({'task_id': export.task_id, 'status_url': exports.status_url(export)},
                         status=202)


def export_status(task_id):
    export = exports.get_for(current_user(), task_id)
    return exports.live_status(export, settings())


def download_export(task_id):
    export, path = exports.download(current_user(), task_id, settings(), client_ip(),
                                    head=bottle.request.method == 'HEAD')
    # static_file streams the file and answers HEAD, Range and If-None-Match.
    response = bottle.static_file(path.name, root=str(path.parent), mimetype='text/csv',
                                  download=exports.download_name(export, clock()))
    response.set_header('Cache-Control', 'private, no-store')
    return response


def started_label(export, clinic_clock):
    """When an export was asked for, in clinic time: 'today at 14:05', or
    '2026-05-01 14:05' for an earlier day; static/export.js writes the same
    form for the ones started on the page."""
    at = clinic_clock.localize(export.created_at)
    if at.date() == clinic_clock.today():
        return f'today at {at:%H:%M}'
    return f'{at:%Y-%m-%d %H:%M}'


def recent_exports(user):
    """For the export partials: exports to show again after a reload, and
    the clinic's zone for the times of new ones."""
    items = []
    at = clock()
    for export in exports.recent_for(user):
        label = 'All data' if export.scope == 'all' else (
            'Your history' if export.patient_id == user.id else export.patient.name)
        finished = at.localize(export.finished_at)
        items.append({'status_url': exports.status_url(export), 'label': label,
                      'body': json.dumps(exports.request_body(export)),
                      'started': started_label(export, at),
                      'finished_ms': int(finished.timestamp() * 1000) if finished else ''})
    return {'recent_exports': items, 'export_tz': str(at.tz)}


# Exports carry clinical text: reception is refused outright (SPEC §9);
# anyone else who did not ask for one gets 404, as if it did not exist.
READERS = ('patient', 'doctor', 'admin')

ROUTES = [
    ('POST', '/api/exports', create_export, ('patient', 'admin'), {}),
    ('GET', f'/api/exports/{TASK_ID}', export_status, READERS, {}),
    ('GET', f'/api/exports/{TASK_ID}/download', download_export, READERS, {}),
    ('GET', f'/exports/{TASK_ID}/download', download_export, READERS, {}),
]
