"""History export (SPEC §5): who may export what, the live status read from
Huey's result store, the task that writes the file (app.services.export_csv)
and queues the "export ready" email, the cleanup of old files, and the re-run
of exports a dead worker left behind.

An Export row is the owner record: it decides who may see a task id and it
survives the expiry of Huey's results. Huey's result store holds what the
page polls: the progress the task writes while it runs (`huey.put`) and its
return value or error when it ends (`huey.result(..., preserve=True)`).
"""
import datetime
import logging
import re
import time
import uuid

from huey.exceptions import TaskException

from app import batch, mail, validate, workers
from app.db import database, is_sqlite
from app.errors import ApiError, bad_request, not_found
from app.models import Export, User, utcnow
from app.queue import huey
from app.services import accounts, audit
from app.services.export_csv import export_to_file
from app.templating import render_email

log = logging.getLogger('clinicdesk.exports')

ACTIVE = ('queued', 'running')
# Progress is written at most this often: each write is a queue-storage
# transaction (an fsync with SQLite), too dear to do per chunk.
PROGRESS_INTERVAL = 0.2
ATTACH_LIMIT = 5 * 1024 * 1024  # larger files are sent as a link (SPEC §5)
# A click this soon after the same export finished gets that export back.
REUSE_DONE = datetime.timedelta(minutes=1)


def request_export(user, data, ip=None):
    """The export `user` asks for: one of the same data by the same user that
    is under way or finished within REUSE_DONE when there is one (quick
    clicks make one export and one email), else a new row, recorded in the
    audit trail and committed for the caller to queue. Returns (export, created)."""
    scope, patient = _target(user, data)
    with database.atomic():
        if not is_sqlite():
            # Two clicks at once must not both insert: lock the requester's
            # row (SQLite's IMMEDIATE transactions already run one at a time).
            list(User.select(User.id).where(User.id == user.id).for_update())
        export = _reusable_export(user, scope, patient)
        if export is not None:
            return export, False
        export = Export.create(task_id=str(uuid.uuid4()), requester=user.id, scope=scope,
                               patient=patient)
        audit.record('export.create', user, export.patient_id, f'export:{export.task_id}', ip)
    return export, True


def _target(user, data):
    scope = validate.choice(data, 'scope', ('patient', 'all'), required=False)
    if user.role == 'patient':
        if scope == 'all' or data.get('patient_id') not in (None, '', user.id):
            raise ApiError(403, 'patients can export only their own history')
        return 'patient', user.id
    if scope == 'all':
        if data.get('patient_id') not in (None, ''):
            raise bad_request('patient_id', 'leave it out for an all-data export')
        return 'all', None
    if data.get('patient_id') in (None, ''):
        raise bad_request('patient_id', 'is required (or send "scope": "all")')
    return 'patient', accounts.get_patient(validate.identifier(data, 'patient_id'))


def _reusable_export(user, scope, patient):
    just_done = ((Export.status == 'done') & Export.expired_at.is_null()
                 & (Export.finished_at >= utcnow() - REUSE_DONE))
    query = (Export.select()
             .where(Export.requester == user.id,
                    Export.scope == scope,
                    Export.status.in_(ACTIVE) | just_done)
             .order_by(Export.id.desc()))
    if patient is not None:
        query = query.where(Export.patient == patient)
    return query.first()


def recent_for(user, now=None, limit=3):
    """The user's latest exports of the last day, newest first, for the page
    to show again after a reload."""
    since = (now or utcnow()) - datetime.timedelta(days=1)
    return list(Export.select()
                .where(Export.requester == user.id,
                       Export.created_at > since)
                .order_by(Export.id.desc())
                .limit(limit))


def request_body(export):
    """The POST body that asks for the same data again ("Try again")."""
    if export.scope == 'all':
        return {'scope': 'all'}
    if export.patient_id != export.requester_id:
        return {'patient_id': export.patient_id}
    return {}


def get_for(user, task_id):
    """The export if `user` may see it: its requester or an admin. Anyone
    else gets the same 404 as for an id that does not exist."""
    export = Export.get_or_none(Export.task_id == task_id)
    if export is None or (user.role != 'admin' and export.requester_id != user.id):
        raise not_found('export not found')
    return export


def progress_key(task_id):
    return f'export-progress:{task_id}'


def status_url(export):
    return f'/api/exports/{export.task_id}'


def download_url(export):
    return f'/api/exports/{export.task_id}/download'


def live_status(export, settings):
    """Where the export is: Huey's stored result once the task ended, else
    the progress the running task keeps writing; the row fills in when the
    result has expired or is about to be written."""
    try:
        result = huey.result(export.task_id, preserve=True)
    except TaskException as exc:
        if not exc.metadata.get('retries'):
            return _status('failed', error=export.error or _plain_error(exc.metadata))
        result = None  # a retry is coming
    except Exception as exc:
        # The queue's storage is down (Redis stopped): the row still knows.
        log.warning('cannot read the result of export %s: %s', export.task_id, exc)
        result = None
    if isinstance(result, dict):
        if export.status != 'done':
            # It finished after the row was read; the row is done by now
            # (it commits before the task returns its result).
            export = Export.get_by_id(export.id)
        return _done_status(export, settings, result.get('rows'))
    if export.status == 'done':
        return _done_status(export, settings, export.rows)
    if export.status == 'failed':
        return _status('failed', error=export.error or 'the export failed')
    progress = _peek_progress(export.task_id)
    if progress is not None:
        return _status('running', progress=progress['progress'], rows=progress['rows'])
    return _status(export.status)


def _status(status, progress=0, rows=None, url=None, error=None):
    return {'status': status, 'progress': progress, 'rows': rows,
            'download_url': url, 'error': error}


def _done_status(export, settings, rows):
    if file_path(export, settings) is None:
        return _status('done', 100, rows, error=expired_message(settings))
    return _status('done', 100, rows, url=download_url(export))


def _peek_progress(task_id):
    try:
        return huey.get(progress_key(task_id), peek=True)
    except Exception:
        log.warning('cannot read export progress for %s', task_id, exc_info=True)
        return None


def _plain_error(metadata):
    # Huey stores repr(exception); show the message, not the class name.
    error = metadata.get('error') or 'the export failed'
    match = re.fullmatch(r"\w+\((['\"])(.*)\1\)", error, re.S)
    return match.group(2) if match else error


def expired_message(settings):
    return (f'this export has expired: files are kept for {settings.export_retention_days} '
            'days. Start a new export to get a fresh file.')


def file_path(export, settings):
    """The finished file, or None when it has expired or is not there."""
    if export.status != 'done' or not export.file_name or export.expired_at:
        return None
    path = settings.exports_dir / export.file_name
    return path if path.is_file() else None


def download_name(export, clock):
    day = clock.localize(export.finished_at or utcnow()).date().isoformat()
    if export.scope == 'all':
        return f'clinicdesk-all-data-{day}.csv'
    slug = re.sub(r'[^a-z0-9]+', '-', (export.patient.name or '').lower()).strip('-')
    return f'clinicdesk-history-{slug or export.patient_id}-{day}.csv'


def download(user, task_id, settings, ip=None, head=False):
    """(export, path to send) for `user`, or the reason there is none (404 /
    409 / 410). A download is recorded; a HEAD request (head=True) reads no
    data and records nothing."""
    export = get_for(user, task_id)
    if export.status in ACTIVE:
        raise ApiError(409, 'the export is not finished yet')
    if export.status == 'failed':
        raise ApiError(409, f'the export failed: {export.error or "unknown error"}')
    path = file_path(export, settings)
    if path is None:
        raise ApiError(410, expired_message(settings))
    if not head:
        audit.record('export.download', user, export.patient_id, f'export:{export.task_id}', ip)
    return export, path


class ProgressWriter:
    """Writes {progress, rows} to Huey's key-value store every
    PROGRESS_INTERVAL seconds at most, never failing the export over it."""

    def __init__(self, task_id):
        self.key = progress_key(task_id)
        self.next_time = time.monotonic() + PROGRESS_INTERVAL
        self.warned = False

    def __call__(self, done, total):
        now = time.monotonic()
        if now < self.next_time:
            return
        self.next_time = now + PROGRESS_INTERVAL
        self.put(min(99, done * 100 // max(total, 1)), done)

    def put(self, percent, rows):
        try:
            huey.put(self.key, {'progress': percent, 'rows': rows})
        except Exception as exc:
            if not self.warned:
                log.warning('cannot write export progress: %s', exc)
            self.warned = True


def run_export(settings, clock, export_id, retries_left=0):
    """The task body: claim the row, write the file, mark it done and queue
    the email in one transaction. Returns what Huey stores as the result,
    or None when there is nothing to do (already finished, or another live
    worker runs it)."""
    export = _claim(export_id)
    if export is None:
        return None
    progress = ProgressWriter(export.task_id)
    progress.put(0, 0)
    # One file per attempt: a run taken for dead that still finishes cannot
    # overwrite the file of the run that replaced it.
    name = f'export-{export.task_id}-{export.attempts}.csv'
    path = settings.exports_dir / name
    try:
        rows, size = export_to_file(path, export.scope, export.patient_id, progress)
        progress.put(100, rows)
        finished = _finish(settings, clock, export, name, rows, size)
    except Exception as exc:
        _after_error(export, exc, retries_left)
        raise
    if not finished:
        path.unlink(missing_ok=True)
        return None
    _forget_progress(export.task_id)
    return {'rows': rows, 'file_size': size}


def _claim(export_id):
    """The export, taken for this worker; None when it is finished or
    another live worker runs it."""
    export = Export.get_or_none(Export.id == export_id)
    if export is None or export.status not in ACTIVE:
        return None
    if export.status == 'running' and workers.alive(export.owner):
        return None
    if not workers.claim(export, status='running', started_at=utcnow(), error=None):
        return None
    return export


def _finish(settings, clock, export, name, rows, size):
    with database.atomic():
        updated = (Export
                   .update(status='done', rows=rows, file_name=name, file_size=size,
                           finished_at=utcnow(), error=None)
                   .where(workers.ours(export),
                          Export.status == 'running')
                   .execute())
        if not updated:
            # Another run took over (this worker was taken for dead).
            return False
        # In the same transaction: the email exists exactly when the export
        # is done, and its dedupe key keeps a re-run from sending it twice.
        queue_ready_email(settings, clock, Export.get_by_id(export.id))
    return True


def queue_ready_email(settings, clock, export):
    """The "export ready" email to whoever asked: a patient's own history is
    attached (a link when the file is over 5 MB); other people's data gets
    a link only, so it does not sit in a mailbox. None when queued already
    or when the requester has no email."""
    requester = export.requester
    if not requester.email:
        return None
    scope_all, own = export.scope == 'all', export.patient_id == requester.id
    patient_name = None if scope_all or own else export.patient.name
    if scope_all:
        subject = 'Export ready: all clinic data'
    elif own:
        subject = 'Your appointment history is ready'
    else:
        subject = f'Export ready: history of {patient_name}'
    attachments = ()
    if own and export.file_size <= ATTACH_LIMIT:
        content = (settings.exports_dir / export.file_name).read_bytes()
        attachments = ((download_name(export, clock), 'text/csv', content),)
    text = render_email(
        'mail/export_ready.txt', name=requester.name, scope_all=scope_all, own=own,
        patient_name=patient_name, rows=export.rows,
        attached=bool(attachments), link=f'{settings.base_url}/exports/{export.task_id}/download',
        retention_days=settings.export_retention_days, clinic_name=settings.clinic_name)
    return mail.queue_message(f'export:{export.id}', requester.email, subject, text,
                              attachments=attachments)


def _after_error(export, exc, retries_left):
    log.error('export %s failed (%s retries left): %s', export.task_id, retries_left, exc)
    if retries_left:
        # Back to the queue: Huey's retry claims it again.
        changes = {'status': 'queued', 'owner': None, 'error': None, 'finished_at': None}
    else:
        changes = {'status': 'failed', 'error': _user_message(exc), 'finished_at': utcnow()}
    try:
        updated = Export.update(**changes).where(workers.ours(export)).execute()
    except Exception:
        log.exception('cannot record the failure of export %s', export.task_id)
        updated = 0
    if updated:
        _forget_progress(export.task_id)


def _user_message(exc):
    if isinstance(exc, OSError):
        return f'could not write the file ({exc.strerror or exc})'
    return 'the export could not be completed; please try again'


def _forget_progress(task_id):
    try:
        huey.delete(progress_key(task_id))
    except Exception:
        pass


def recover_interrupted(now=None, queue=None):
    """The exports whose worker died, or whose task was lost before a worker
    claimed it, taken back ('queued') for the caller to queue again under
    their own task ids: Huey does not re-deliver a task whose worker was
    killed. Safe from several workers at once: each row is taken with a
    compare-and-set, and the claim lets only one run work."""
    now = now or utcnow()
    queue = queue or workers.Queue()
    lost = []
    # Read in full before writing: see report_runs.claim_due.
    active = list(Export.select().where(Export.status.in_(ACTIVE)).order_by(Export.id))

    def take_back(export):
        if not workers.abandoned(export, now, queue):
            return
        owner = export.owner
        if workers.release(export, status='queued'):
            log.warning('export %s was interrupted (worker %s); running it again',
                        export.task_id, owner or '-')
            _forget_progress(export.task_id)
            lost.append(export)

    batch.each(active, take_back, 'export')
    return lost


def delete_expired(settings, now=None):
    """Delete export files older than EXPORT_RETENTION_DAYS and mark their
    rows expired (they stay 'done'; the download then answers 410). Huey's
    stored results of those exports go too."""
    now = now or utcnow()
    cutoff = now - datetime.timedelta(days=settings.export_retention_days)
    old = (Export.select()
           .where(Export.finished_at < cutoff,
                  Export.expired_at.is_null()))
    deleted = 0
    for export in list(old):  # in full before writing: see report_runs.claim_due
        if export.file_name:
            (settings.exports_dir / export.file_name).unlink(missing_ok=True)
            deleted += 1
        (Export.update(expired_at=now)
         .where(Export.id == export.id)
         .execute())
        _forget_result(export.task_id)
    _delete_stale_temp_files(settings, now)
    return deleted


def _forget_result(task_id):
    try:
        huey.delete(task_id)
        huey.delete(progress_key(task_id))
    except Exception:
        pass


def _delete_stale_temp_files(settings, now):
    # Temp files of runs killed mid-write; a day is far longer than any export.
    limit = (now - datetime.timedelta(days=1)).replace(tzinfo=datetime.timezone.utc).timestamp()
    for path in settings.exports_dir.glob('.export-*.tmp'):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass
