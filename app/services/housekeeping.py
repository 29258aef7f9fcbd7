"""Housekeeping, run every minute by the consumer: pick up work a killed
consumer left behind, find mail that is due again, prune old history.

Other features add their own cleanup with the @cleanup decorator (export
files, for one); each is called with (settings, now) and its result is
reported under its function name.
"""
import datetime
import logging

from app import mail, schedule
from app.models import JobRun, OutboxMessage

log = logging.getLogger('clinicdesk.housekeeping')

KEEP_JOB_RUNS = datetime.timedelta(days=90)
KEEP_SENT_MAIL = datetime.timedelta(days=90)
# Interrupted runs older than this are not restarted any more.
RESTART_WINDOW = datetime.timedelta(days=2)

CLEANUPS = []


def cleanup(fn):
    """Register fn(settings, now) to run with every housekeeping pass."""
    CLEANUPS.append(fn)
    return fn


def _still_meaningful(settings, name, key, now):
    if name == 'daily_reminders':
        return datetime.date.fromisoformat(key) >= now.astimezone(settings.tz).date()
    return True


def interrupted_runs(settings, now):
    """(job, slot) of runs a dead consumer left 'running' that are still
    worth finishing; the others are marked failed."""
    now_utc = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    running = list(JobRun.select()
                   .where(JobRun.status == 'running',
                          JobRun.started_at > now_utc - RESTART_WINDOW))
    restart, known = [], schedule.jobs(settings)
    for run in running:
        if run.job not in known or not schedule.abandoned(run, now_utc):
            continue
        if _still_meaningful(settings, run.job, run.slot, now):
            restart.append((run.job, run.slot))
        else:
            schedule.finish(run, 'failed', error='interrupted: the consumer running it stopped')
    return restart


def prune(now):
    now_utc = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    runs = (JobRun.delete()
            .where(JobRun.status != 'running',
                   JobRun.started_at < now_utc - KEEP_JOB_RUNS)
            .execute())
    sent = (OutboxMessage.delete()
            .where(OutboxMessage.status == 'sent',
                   OutboxMessage.sent_at < now_utc - KEEP_SENT_MAIL)
            .execute())
    # Huey's task events are pruned by huey.contrib.stats itself (48 h).
    return {'job_runs': runs, 'sent_mail': sent}


def run(settings, now):
    """One pass; returns what it found and did."""
    now_utc = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    released, in_doubt = mail.recover_abandoned(now_utc)
    report = {'interrupted': interrupted_runs(settings, now),
              'mail_released': released, 'mail_in_doubt': in_doubt,
              'mail_due': mail.due_count(now_utc) if settings.smtp_host else 0,
              'pruned': prune(now)}
    for fn in CLEANUPS:
        try:
            report[fn.__name__] = fn(settings, now)
        except Exception:
            log.exception('housekeeping step %s failed', fn.__name__)
            report[fn.__name__] = 'failed'
    return report
