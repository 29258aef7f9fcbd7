"""Running scheduled reports: the scheduler's claim of due slots, one run of
an execution (rows → file → mail), the mail outcome, and recovery.

Scheduler (`claim_due`, every minute): a report whose `next_run_at` has
passed gets one execution for its latest due slot, keyed (report, slot) by a
unique index, so two schedulers or a repeated pass never run a slot twice.
After downtime only the latest missed slot runs (one catch-up run, not one
per missed slot). `next_run_at` moves past `now` in the same transaction,
before the run, so a failing run never holds the schedule back.

Run (`run_execution`, a Huey task): claim the row (compare-and-set on its
attempt number), write the file under a deadline, then in one transaction
mark it `success` and queue one outbox message per recipient. Transient
errors (database busy, disk, lost connection) are left to Huey's retries,
anything else fails the execution at once.

Mail outcome (`settle_mail`): the outbox decides each message; an execution
turns `partial` when one of its messages ends `failed` (a 5xx, or given up
by the outbox) or is still undelivered after MAIL_GIVE_UP.
"""
import datetime
import hashlib
import logging
import re
import uuid

import peewee

from app import batch, mail, workers
from app.clock import naive_utc
from app.db import database
from app.errors import ApiError, not_found
from app.models import OutboxMessage, ReportExecution, ScheduledReport, utcnow
from app.recurrence import latest_run, next_run
from app.redis_errors import unreachable
from app.services import audit, report_engine, report_writers, reports
from app.templating import render_email

log = logging.getLogger('clinicdesk.reports')

MAX_RUN = datetime.timedelta(minutes=30)      # SPEC §4: a longer run is stopped
MAX_ATTEMPTS = 4                              # the first run and 3 retries
# A larger file is sent as a link; so is a file whose copies for all the
# recipients would weigh more than ATTACH_BUDGET in the outbox.
ATTACH_LIMIT = 5 * 1024 * 1024
ATTACH_BUDGET = 20 * 1024 * 1024
MAIL_GIVE_UP = datetime.timedelta(hours=24)
TRANSIENT = (peewee.OperationalError, peewee.InterfaceError, OSError)
DEDUPE_MAX = 200


class ReportFailed(Exception):
    """The run failed for good: Huey must not retry it."""


def files_dir(settings):
    path = settings.data_dir / 'reports'
    path.mkdir(parents=True, exist_ok=True)
    return path


def _new_execution(report, triggered_by, run_day, user=None, slot=None):
    start, end = reports.period_for(report.frequency, run_day)
    return dict(report=report, slot=slot, triggered_by=triggered_by,
                requested_by=user.id if user else None,
                task_id=str(uuid.uuid4()), status='running', period_start=start,
                period_end=end, created_at=utcnow(), started_at=utcnow())


def start(report, triggered_by, user, clock):
    """A manual or test run of `report`: its committed execution, for the
    caller to queue."""
    return ReportExecution.create(**_new_execution(report, triggered_by, clock.today(), user))


def claim_due(now, tz):
    """The scheduler's pass: claim the due slot of each active report whose
    next run has come. Returns the executions created, committed, for the
    caller to queue."""
    now_utc = naive_utc(now)
    # Read in full before writing: an UPDATE while this SELECT is still
    # open fails at once on SQLite ("database is locked") if another writer
    # committed meanwhile.
    due = list(ScheduledReport.select()
               .where(ScheduledReport.active == True,  # noqa: E712
                      ScheduledReport.next_run_at <= now_utc)
               .order_by(ScheduledReport.next_run_at, ScheduledReport.id))
    queued = []

    def claim(report):
        execution = _claim_slot(report, now, tz)
        if execution is not None:
            queued.append(execution)

    # A report whose schedule cannot be worked out is skipped, not the others.
    batch.each(due, claim, 'scheduled report')
    return queued


def _claim_slot(report, now, tz):
    plan = reports.Schedule.of(report)
    slot_at = latest_run(plan, now, tz)
    fields = _new_execution(report, 'schedule', slot_at.date())
    fields['slot'] = reports.slot_key(report.frequency, fields['period_start'])
    with database.atomic():
        moved = (ScheduledReport
                 .update(next_run_at=naive_utc(next_run(plan, now, tz)))
                 .where(ScheduledReport.id == report.id,
                        ScheduledReport.next_run_at == report.next_run_at)
                 .execute())
        if not moved:
            return None  # another scheduler took this report
        inserted = list(ReportExecution.insert(**fields)
                        .on_conflict_ignore()
                        .returning(ReportExecution.id)
                        .execute())
        if not inserted:
            log.info('report %s: slot %s ran already', report.id, fields['slot'])
            return None
        return ReportExecution.get_by_id(inserted[0].id)


def run_execution(settings, clock, execution_id, retries_left=0, max_run=MAX_RUN):
    """The task body. Returns a summary, or None when there is nothing to do
    (finished already, or another live worker has it). Raises the error for
    Huey to retry when it is transient and retries are left, ReportFailed
    when the execution has failed for good."""
    execution = _claim(execution_id)
    if execution is None:
        return None
    deadline = report_engine.Deadline(max_run.total_seconds())
    try:
        name, rows, size = _write_file(settings, clock, execution, deadline)
        if not _finish(settings, execution, name, rows, size):
            # Deleted meanwhile, or taken over by another run.
            if not ReportExecution.select().where(ReportExecution.id == execution.id).exists():
                (files_dir(settings) / name).unlink(missing_ok=True)
            return None
    except Exception as exc:
        if isinstance(exc, TRANSIENT + unreachable()) and retries_left > 0:
            _note_retry(execution, exc)
            raise
        message = failure_message(exc)
        _fail(execution, message)
        raise ReportFailed(message) from exc
    return {'execution_id': execution.id, 'rows': rows, 'file_size': size}


def _claim(execution_id):
    execution = (ReportExecution.select(ReportExecution, ScheduledReport)
                 .join(ScheduledReport)
                 .where(ReportExecution.id == execution_id)
                 .first())
    if execution is None or execution.status != 'running' or workers.alive(execution.owner):
        return None
    # The run started when it was first claimed; a re-run keeps that start.
    started = utcnow() if execution.attempts == 0 else execution.started_at
    return execution if workers.claim(execution, started_at=started) else None


def file_name(execution):
    return f'report-{execution.id}.{execution.report.format}'


def heading(clock, execution):
    report = execution.report
    made = clock.now().strftime('%Y-%m-%d %H:%M %Z')
    return report_writers.Heading(
        title=report.name,
        period=reports.period_label(execution.period_start, execution.period_end),
        generated=f'made {made}')


def _write_file(settings, clock, execution, deadline):
    report = execution.report
    name = file_name(execution)
    path = files_dir(settings) / name
    data = report_engine.build(report.kind, execution.period_start, execution.period_end,
                               deadline)
    try:
        rows = report_writers.write(report.format, path, data, heading(clock, execution))
    finally:
        data.close()
    deadline.check()
    return name, rows, path.stat().st_size


def _ours(execution):
    return workers.ours(execution) & (ReportExecution.status == 'running')


def _finish(settings, execution, name, rows, size):
    """Mark it done and queue its mail in one transaction; False when
    another run took it over meanwhile."""
    recipients = recipients_for(execution)
    with database.atomic():
        done = (ReportExecution
                .update(status='success', finished_at=utcnow(), row_count=rows,
                        file_name=name, file_size=size, error=None,
                        recipients=recipients, mail_pending=bool(recipients))
                .where(_ours(execution))
                .execute())
        if not done:
            return False
        execution.file_name, execution.row_count, execution.file_size = name, rows, size
        mail.queue_messages(_messages(settings, execution, recipients))
    return True


def _note_retry(execution, exc):
    log.warning('report execution %s: %s; Huey will retry', execution.id, exc)
    workers.release(execution, error=f'retrying after: {failure_message(exc)}')


def _fail(execution, message):
    log.error('report execution %s failed: %s', execution.id, message)
    (ReportExecution
     .update(status='failed', finished_at=utcnow(), error=message, owner=None)
     .where(_ours(execution))
     .execute())


def failure_message(exc):
    if isinstance(exc, report_engine.ReportTimeout):
        return str(exc)
    if isinstance(exc, OSError):
        return f'could not write the file ({exc.strerror or exc})'
    if isinstance(exc, (peewee.OperationalError, peewee.InterfaceError)):
        return f'the database did not answer ({exc})'
    return f'{type(exc).__name__}: {exc}'[:500]


def recipients_for(execution):
    if execution.triggered_by == 'test':
        user = execution.requested_by
        return [user.email] if user else []
    return reports.recipients_of(execution.report)


def dedupe_key(execution_id, address):
    key = f'report:{execution_id}:{address}'
    if len(key) <= DEDUPE_MAX:
        return key
    return f'report:{execution_id}:{hashlib.sha256(address.encode()).hexdigest()}'


def subject_of(report, execution):
    period = reports.period_label(execution.period_start, execution.period_end)
    subject = report.subject or f'{report.name}: {period}'
    return ('[Test] ' + subject if execution.triggered_by == 'test' else subject)[:300]


def _messages(settings, execution, recipients):
    """One outbox message per recipient, the file read once for all."""
    report = execution.report
    attach = (execution.file_size <= ATTACH_LIMIT
              and execution.file_size * len(recipients) <= ATTACH_BUDGET)
    text = mail_text(settings, execution, attach)
    attachments = ()
    if attach:
        content = (files_dir(settings) / execution.file_name).read_bytes()
        attachments = ((download_name(execution), report_writers.MEDIA_TYPES[report.format],
                        content),)
    subject = subject_of(report, execution)
    return [{'dedupe_key': dedupe_key(execution.id, to), 'to': to, 'subject': subject,
             'text': text, 'attachments': attachments} for to in recipients]


def mail_text(settings, execution, attached):
    report = execution.report
    return render_email(
        'mail/report_run.txt', test=execution.triggered_by == 'test', body=report.body,
        name=report.name, kind=reports.KIND_LABELS[report.kind],
        period=reports.period_label(execution.period_start, execution.period_end),
        rows=execution.row_count, attached=attached, file_name=download_name(execution),
        megabytes=execution.file_size / 1e6,
        url=f'{settings.base_url}{page_download_url(execution)}')


def settle_mail(now_utc=None):
    """Decide the executions whose mail the outbox has finished with:
    `partial` once a recipient's message failed, or is still undelivered
    after MAIL_GIVE_UP. Returns how many executions were settled."""
    now_utc = now_utc or utcnow()
    settled = 0
    waiting = list(ReportExecution.select()  # in full before writing (see claim_due)
                   .where(ReportExecution.mail_pending == True)  # noqa: E712
                   .order_by(ReportExecution.id))
    for execution in waiting:
        try:
            settled += _settle(execution, now_utc)
        except Exception as exc:
            batch.skipped('report execution', execution.id, exc)
    return settled


def _settle(execution, now_utc):
    keys = {dedupe_key(execution.id, to): to
            for to in execution.recipients or []}
    messages = list(OutboxMessage.select(OutboxMessage.dedupe_key, OutboxMessage.status,
                                         OutboxMessage.error)
                    .where(OutboxMessage.dedupe_key.in_(list(keys))))
    problems, open_ = [], 0
    given_up = execution.finished_at and execution.finished_at < now_utc - MAIL_GIVE_UP
    for message in messages:
        status = mail.public_status(message.status)
        if status == 'failed':
            problems.append(f'{keys[message.dedupe_key]}: {message.error or "refused"}')
        elif status == 'pending' and given_up:
            problems.append(f'{keys[message.dedupe_key]}: not delivered after '
                            f'{MAIL_GIVE_UP.total_seconds() / 3600:g} h ({message.error or "waiting"})')
        elif status == 'pending':
            open_ += 1
    status = 'partial' if problems else execution.status
    error = ('mail not delivered to ' + '; '.join(problems))[:2000] if problems else execution.error
    if status == execution.status and open_:
        return 0
    (ReportExecution
     .update(status=status, error=error, mail_pending=bool(open_))
     .where(ReportExecution.id == execution.id,
            ReportExecution.mail_pending == True)  # noqa: E712
     .execute())
    return 0 if open_ else 1


def recover(now_utc, queue=None):
    """Executions a dead worker left 'running', or whose task was lost
    before it started, taken back for the caller to queue again; those
    that used up MAX_ATTEMPTS fail instead. Returns the ones to queue."""
    running = list(ReportExecution.select(ReportExecution, ScheduledReport)
                   .join(ScheduledReport)
                   .where(ReportExecution.status == 'running')
                   .order_by(ReportExecution.id))
    queue = queue or workers.Queue()
    lost = []

    def take_back(execution):
        if not workers.abandoned(execution, now_utc, queue):
            return
        if execution.attempts >= MAX_ATTEMPTS:
            _fail(execution, 'the worker running it stopped, and it was retried '
                             f'{MAX_ATTEMPTS - 1} times already')
        elif workers.release(execution):
            log.warning('report execution %s was interrupted; running it again', execution.id)
            lost.append(execution)

    batch.each(running, take_back, 'report execution')
    return lost


def get(report, execution_id):
    execution = (ReportExecution.select()
                 .where(ReportExecution.id == execution_id,
                        ReportExecution.report == report)
                 .first())
    if execution is None:
        raise not_found('execution not found')
    execution.report = report
    return execution


def history(report, limit=100, offset=0):
    return list(ReportExecution.select()
                .where(ReportExecution.report == report)
                .order_by(ReportExecution.id.desc())
                .limit(limit)
                .offset(offset))


def download_url(execution):
    return f'/api/reports/{execution.report_id}/executions/{execution.id}/download'


def page_download_url(execution):
    return f'/admin/reports/{execution.report_id}/executions/{execution.id}/download'


def download_name(execution):
    slug = re.sub(r'[^a-z0-9]+', '-', execution.report.name.lower()).strip('-') or 'report'
    start, end = execution.period_start, execution.period_end
    period = start.isoformat() if start == end else f'{start.isoformat()}_{end.isoformat()}'
    return f'{slug[:60]}-{period}.{execution.report.format}'


def download(user, report_id, execution_id, settings, ip=None, head=False):
    """(execution, path of its file) for `user`, or ApiError 404/409/410
    saying why there is none. A download is recorded; a HEAD request
    (head=True) reads no data and records nothing."""
    execution = get(reports.get(report_id), execution_id)
    if execution.status == 'running':
        raise ApiError(409, 'the report is still running')
    if not execution.file_name:
        raise ApiError(409, f'this run made no file: {execution.error or "it failed"}')
    path = files_dir(settings) / execution.file_name
    if not path.is_file():
        raise ApiError(410, 'the file of this run is no longer there')
    if not head:
        audit.record('report_file.download', user, None,
                     f'report_execution:{execution.id}', ip)
    return execution, path


def duration_ms(execution):
    if execution.finished_at is None or execution.started_at is None:
        return None
    return int((execution.finished_at - execution.started_at).total_seconds() * 1000)


def to_json(execution, clock):
    has_file = execution.file_name is not None and execution.status in ('success', 'partial')
    return {
        'id': execution.id,
        'status': execution.status,
        'triggered_by': execution.triggered_by,
        'started_at': clock.iso(execution.started_at),
        'finished_at': clock.iso(execution.finished_at),
        'duration_ms': duration_ms(execution),
        'row_count': execution.row_count,
        'error': execution.error,
        'download_url': download_url(execution) if has_file else None,
        'period': {'from': execution.period_start.isoformat(),
                   'to': execution.period_end.isoformat()},
        'mail_pending': execution.mail_pending,
        'task_id': execution.task_id,
    }


def delete_report(settings, report):
    """The report, its history and its files."""
    names = [e.file_name for e in ReportExecution.select(ReportExecution.file_name)
             .where(ReportExecution.report == report,
                    ReportExecution.file_name.is_null(False))]
    with database.atomic():
        ReportExecution.delete().where(ReportExecution.report == report).execute()
        report.delete_instance()
    for name in names:
        (files_dir(settings) / name).unlink(missing_ok=True)
