"""Huey tasks. Each is a few lines that call a service; the Huey instance and
its storage come from app.queue, configured at start by app.boot.

Work is put on the queue here only, once the rows it works on are
committed: services return what they created, then a view calls
queue_export / queue_report / run_job_now, and a task that wrote mail calls
queue_delivery.
"""
import logging

from huey import crontab, signals as huey_signals

from app import batch, memory, runtime, smtp_delivery
from app.db import database
from app.queue import PRIORITY_BATCH, PRIORITY_INTERACTIVE, huey
from app.services import exports, incidents, periodic, reminders, report_runs
from app.services import housekeeping as housekeeping_service

log = logging.getLogger('clinicdesk.tasks')

# Transient failures (database busy, a lost connection) are retried by Huey a
# minute later; the slot ledger makes every retry safe.
JOB_RETRIES = {'retries': 2, 'retry_delay': 60, 'priority': PRIORITY_BATCH}


def enqueue(task, undo=None):
    """Put `task` on the queue now; the rows it works on are committed.
    When the queue refuses it (Redis down), undo() removes those rows so no
    orphan is left, and the error goes up: a request answers 503."""
    if database.in_transaction():
        raise RuntimeError(f'{task.name} must be queued after the commit, not inside it')
    try:
        huey.enqueue(task)
    except Exception:
        if undo is not None:
            _undo_or_log(task, undo)
        raise
    return task


def _undo_or_log(task, undo):
    # A failing undo (database busy) must not mask the queue error, which
    # is what the caller answers (503); recovery later requeues the row.
    try:
        undo()
    except Exception as exc:
        log.warning('could not remove the work of refused %s (%s); recovery will queue it',
                    task.name, type(exc).__name__)


def enqueue_after_commit(task):
    """Put `task` on the queue once the caller's transaction commits (at once
    outside one), best effort: when the queue refuses it, the committed work
    waits for housekeeping or recovery (pending mail, a scheduled run)."""
    database.after_commit(lambda: _enqueue_or_log(task))


def _enqueue_or_log(task):
    try:
        huey.enqueue(task)
    except Exception as exc:
        # Raised inside peewee's commit it would surface only as "no
        # transaction is active"; the work is committed and is picked up later.
        log.warning('could not queue %s now (%s); housekeeping will retry',
                    task.name, type(exc).__name__)


def queue_delivery():
    """Have the outbox delivered once the mail just written is committed."""
    enqueue_after_commit(deliver_outbox.s())


def _deliver_if_mail(result):
    if isinstance(result, dict) and result.get('queued'):
        queue_delivery()
    return result


def _clinic_job_tasks(row):
    """The periodic task of a clinic-time job and its on-demand twin."""
    def run_due():
        with database.connection_context():
            result = periodic.run_due(row.name, runtime.settings(), runtime.clock().now())
        return _deliver_if_mail(result)

    def run_for(key=None):
        with database.connection_context():
            result = periodic.run_now(row.name, runtime.settings(), key, runtime.clock().today())
        return _deliver_if_mail(result)

    huey.periodic_task(periodic.clinic_cron(row.name), name=row.name, **JOB_RETRIES)(run_due)
    return huey.task(name=f'{row.name}_for', **JOB_RETRIES)(run_for)


# {job name: its on-demand task `<name>_for`, which takes the slot key}
ON_DEMAND = {name: _clinic_job_tasks(row) for name, row in periodic.JOBS.items()}


def run_job_now(name, body, today):
    """Queue clinic-time job `name` for the slot `body` asks for (by default
    today's reminders, last month's reports); (task, slot key or None)."""
    key = periodic.get(name).run_now_key(body, today)
    return enqueue(ON_DEMAND[name].s(key)), key


@huey.periodic_task(crontab(), **JOB_RETRIES)
def hours_before_reminders():
    """Every minute: the REMINDER_HOURS_BEFORE reminders now due (off when
    unset). The outbox keys and the reminder rows make any rerun a no-op."""
    with database.connection_context():
        result = reminders.send_hours_before(runtime.settings(), runtime.clock())
    return _deliver_if_mail(result)


@huey.task(retries=2, retry_delay=5)
def deliver_outbox():
    """Send due outbox mail over one SMTP connection; come back for retries."""
    with database.connection_context():
        report = smtp_delivery.deliver_due(runtime.settings())
        if incidents.mail_refused(runtime.settings(), report['failed_ids']):
            queue_delivery()
    if report['retry_in']:
        deliver_outbox.schedule(delay=report['retry_in'])
    return report


@huey.periodic_task(crontab(), retries=2, retry_delay=5)
def housekeeping():
    """Every minute: restart work a dead worker left, retry due mail, prune history."""
    with database.connection_context():
        report = housekeeping_service.run(runtime.settings(), runtime.clock().now())
    batch.each(report.get('interrupted', ()), lambda run: ON_DEMAND[run[0]](run[1]),
               'job run', key=lambda run: '/'.join(run))
    report['interrupted_exports'] = requeue_exports(report.get('interrupted_exports', ()))
    report['interrupted_reports'] = requeue_reports(report.get('interrupted_reports', ()))
    if report.get('mail_due') or report.get('mail_released') or report.get('alerts'):
        deliver_outbox()
    return report


@huey.task(context=True, retries=2, retry_delay=5, priority=PRIORITY_INTERACTIVE)
def export_history(export_id, task=None):
    """One history export; its progress and result are what the page polls."""
    with database.connection_context():
        result = exports.run_export(runtime.settings(), runtime.clock(), export_id,
                                    retries_left=task.retries)
    if result is not None:
        # Its email is committed; the export is done whatever the queue says.
        queue_delivery()
    return result


def _export_task(export):
    # Under the export's own task id, also when it runs again after a
    # crash: the status URL stays valid.
    return export_history.s(export.id, id=export.task_id, priority=PRIORITY_INTERACTIVE)


def queue_export(export):
    """Queue the export just requested; if the queue refuses, the row goes."""
    return enqueue(_export_task(export), undo=export.delete_instance)


def requeue_exports(interrupted):
    """Put back on the queue the exports a dead worker left; how many."""
    failed = batch.each(interrupted, lambda export: huey.enqueue(_export_task(export)),
                        'export')
    return len(interrupted) - len(failed)


def recover_exports(now=None):
    """Run again the exports whose worker died; how many."""
    return requeue_exports(exports.recover_interrupted(now))


@huey.on_startup()
def recover_exports_on_start():
    # Huey does not re-deliver a task whose worker was killed: run such
    # exports again at once, under the same task id. Housekeeping repeats
    # this every minute for workers that died on other hosts.
    with database.connection_context():
        recover_exports()


@huey.task(context=True, retries=report_runs.MAX_ATTEMPTS - 1, retry_delay=20)
def run_report(execution_id, task=None):
    """One report execution: rows, file, mail to its recipients. Transient
    errors are retried up to 3 times; a run that failed for good is not."""
    with database.connection_context():
        try:
            result = report_runs.run_execution(runtime.settings(), runtime.clock(),
                                               execution_id, retries_left=task.retries)
        except report_runs.ReportFailed:
            task.retries = 0  # Huey would otherwise retry a run that cannot succeed
            raise
    if result is not None:
        queue_delivery()
    return result


def _report_task(execution):
    # An admin who clicked "Run now" is waiting; scheduled runs are batch work.
    priority = PRIORITY_BATCH if execution.triggered_by == 'schedule' else PRIORITY_INTERACTIVE
    return run_report.s(execution.id, id=execution.task_id, priority=priority)


def queue_report(execution):
    """Queue a run just started; if the queue refuses, the row goes."""
    return enqueue(_report_task(execution), undo=execution.delete_instance)


def requeue_reports(interrupted):
    """Put back on the queue the report runs a dead worker left; how many."""
    failed = batch.each(interrupted, lambda execution: huey.enqueue(_report_task(execution)),
                        'report execution')
    return len(interrupted) - len(failed)


@huey.periodic_task(crontab())
def scheduled_reports():
    """Every minute: start the reports that fell due (after downtime, one
    catch-up run per report for its latest missed slot) and settle the mail
    outcome of finished runs. Housekeeping's sweep runs interrupted ones again."""
    clock = runtime.clock()
    with database.connection_context():
        queued = report_runs.claim_due(clock.now(), clock.tz)
        for execution in queued:
            # Refused, it stays 'running' with no owner: the sweep queues it.
            enqueue_after_commit(_report_task(execution))
        settled = report_runs.settle_mail()
    return {'queued': [execution.id for execution in queued], 'settled': settled}


@huey.signal(huey_signals.SIGNAL_COMPLETE, huey_signals.SIGNAL_ERROR)
def track_incidents(signal, task, exc=None):
    """Every run's outcome counts toward `failing` (or closes incidents)."""
    failed = signal == huey_signals.SIGNAL_ERROR
    try:
        with database.connection_context():
            if incidents.task_ran(runtime.settings(), task.name, failed,
                                  final=failed and not task.retries,
                                  error_type=type(exc).__name__ if exc else None):
                queue_delivery()
    except Exception:
        log.exception('could not record the outcome of %s for alerts', task.name)


# Tasks that read or render a large batch: after each, freed memory goes back.
LARGE_JOBS = frozenset({'export_history', 'run_report', *periodic.JOBS,
                        *(f'{name}_for' for name in periodic.JOBS)})


@huey.signal(huey_signals.SIGNAL_COMPLETE, huey_signals.SIGNAL_ERROR)
def release_batch_memory(signal, task, *args, **kwargs):
    # An idle worker should not sit at the peak of its last large job (SPEC P6).
    if task.name in LARGE_JOBS:
        memory.give_back()


@huey.signal(huey_signals.SIGNAL_COMPLETE)
def settle_report_mail(signal, task, *args, **kwargs):
    # The outbox decides each message in deliver_outbox: settle report runs
    # right after it, not on the next minute's pass.
    if task.name != 'deliver_outbox':
        return
    with database.connection_context():
        report_runs.settle_mail()
