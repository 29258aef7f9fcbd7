"""Huey tasks. Each is a few lines that call a service; the Huey instance and
its storage come from app.queue, configured at start by app.boot."""
import datetime

from huey import crontab, signals as huey_signals

from app import runtime, smtp_delivery
from app.db import database
from app.queue import PRIORITY_BATCH, PRIORITY_INTERACTIVE, huey
from app.schedule import clinic_cron, previous_month, run_due, run_slot
from app.services import backup as backup_service
from app.services import exports, report_runs
from app.services import housekeeping as housekeeping_service
from app.services import monthly_reports as reports_service
from app.services import reminders as reminders_service

# Transient failures (database busy, a lost connection) are retried by Huey a
# minute later; the slot ledger makes every retry safe.
JOB_RETRIES = {'retries': 2, 'retry_delay': 60, 'priority': PRIORITY_BATCH}


# ---- reminders, monthly reports, the outbox (SPEC §3) -------------------------

@huey.periodic_task(clinic_cron('daily_reminders'), **JOB_RETRIES)
def daily_reminders():
    """Today's reminders at REMINDER_TIME (clinic time), or on catch-up."""
    with database.connection_context():
        return reminders_service.run_due(runtime.settings(), runtime.clock().now())


@huey.periodic_task(clinic_cron('monthly_reports'), **JOB_RETRIES)
def monthly_reports():
    """Last month's reports on the 1st at MONTHLY_REPORT_TIME, or on catch-up."""
    with database.connection_context():
        return reports_service.run_due(runtime.settings(), runtime.clock().now())


@huey.task(**JOB_RETRIES)
def daily_reminders_for(day=None):
    """On demand: the reminders of `day` ('YYYY-MM-DD', default today)."""
    clock = runtime.clock()
    day = datetime.date.fromisoformat(day) if day else clock.today()
    with database.connection_context():
        return reminders_service.run(runtime.settings(), day)


@huey.task(**JOB_RETRIES)
def monthly_reports_for(month=None):
    """On demand: the reports of `month` ('YYYY-MM', default last month)."""
    month = month or previous_month(runtime.clock().today())
    with database.connection_context():
        return reports_service.run(runtime.settings(), month)


@huey.task(retries=2, retry_delay=5)
def deliver_outbox():
    """Send due outbox mail over one SMTP connection; come back for retries."""
    with database.connection_context():
        report = smtp_delivery.deliver_due(runtime.settings())
    if report['retry_in']:
        deliver_outbox.schedule(delay=report['retry_in'])
    return report


@huey.periodic_task(crontab(), retries=2, retry_delay=5)
def housekeeping():
    """Every minute: restart interrupted jobs, retry due mail, prune history."""
    with database.connection_context():
        report = housekeeping_service.run(runtime.settings(), runtime.clock().now())
    for job, slot in report['interrupted']:
        ON_DEMAND[job](slot)
    if report['mail_due'] or report['mail_released']:
        deliver_outbox()
    return report


# ---- backups ------------------------------------------------------------------

@huey.periodic_task(clinic_cron('nightly_backup'), **JOB_RETRIES)
def nightly_backup():
    """A backup archive at BACKUP_TIME (clinic time), keeping BACKUP_KEEP."""
    settings = runtime.settings()
    with database.connection_context():
        return run_due('nightly_backup', runtime.clock().now(),
                       lambda slot: backup_service.run_nightly(settings), settings=settings)


@huey.task(**JOB_RETRIES)
def nightly_backup_for(day=None):
    """On demand ("Run now"): a backup now, recorded in today's slot."""
    settings = runtime.settings()
    day = day or runtime.clock().today().isoformat()
    with database.connection_context():
        return run_slot('nightly_backup', day, lambda: backup_service.run_nightly(settings),
                        force=True)


ON_DEMAND = {'daily_reminders': daily_reminders_for, 'monthly_reports': monthly_reports_for,
             'nightly_backup': nightly_backup_for}


# ---- history export (SPEC §5) -------------------------------------------------

@huey.task(context=True, retries=2, retry_delay=5, priority=PRIORITY_INTERACTIVE)
def export_history(export_id, task=None):
    """One history export; its progress and result are what the page polls."""
    with database.connection_context():
        return exports.run_export(runtime.settings(), runtime.clock(), export_id,
                                  retries_left=task.retries)


@huey.on_startup()
def recover_exports_on_start():
    # Huey does not re-deliver a task whose worker was killed: run such
    # exports again at once, under the same task id. Housekeeping repeats
    # this every minute for workers that died on other hosts.
    with database.connection_context():
        exports.recover_interrupted(runtime.settings())


# ---- scheduled reports (SPEC §4) ----------------------------------------------

@huey.task(context=True, retries=report_runs.MAX_ATTEMPTS - 1, retry_delay=20)
def run_report(execution_id, task=None):
    """One report execution: rows, file, mail to its recipients. Transient
    errors are retried up to 3 times; a run that failed for good is not."""
    with database.connection_context():
        try:
            return report_runs.run_execution(runtime.settings(), runtime.clock(),
                                             execution_id, retries_left=task.retries)
        except report_runs.ReportFailed:
            task.retries = 0  # Huey would otherwise retry a run that cannot succeed
            raise


def queue_report(execution):
    report_runs.enqueue_task(run_report, execution)


@huey.periodic_task(crontab())
def scheduled_reports():
    """Every minute: start the reports that fell due (after downtime, one
    catch-up run per report for its latest missed slot), run interrupted
    runs again, settle the mail outcome of finished runs."""
    clock = runtime.clock()
    with database.connection_context():
        recovered = report_runs.recover(clock.utcnow(), queue_report,
                                        report_runs.waiting_task_ids)
        queued = report_runs.claim_due(clock.now(), clock.tz, queue_report)
        settled = report_runs.settle_mail()
    return {'queued': [execution.id for execution in queued], 'recovered': recovered,
            'settled': settled}


@huey.signal(huey_signals.SIGNAL_COMPLETE)
def settle_report_mail(signal, task, *args, **kwargs):
    # The outbox decides each message in deliver_outbox: settle report runs
    # right after it, not on the next minute's pass.
    if task.name != 'deliver_outbox':
        return
    with database.connection_context():
        report_runs.settle_mail()
