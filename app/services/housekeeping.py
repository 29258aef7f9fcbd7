"""Housekeeping, run every minute by the consumer: pick up work a killed
consumer left behind, find mail that is due again, prune old history.

Its steps are listed in STEPS, in the order they run. Each takes (settings,
now) and returns what it found and did, merged into the pass's report; one
that fails is logged and named under 'failed', and the others still run.
What must go back on the queue (interrupted job runs, exports) is returned
for the housekeeping task to queue.
"""
import datetime
import logging

from app import mail, schedule
from app.clock import naive_utc
from app.models import JobRun, OutboxMessage
from app.services import exports, periodic, task_control

log = logging.getLogger('clinicdesk.housekeeping')

KEEP_JOB_RUNS = datetime.timedelta(days=90)
KEEP_SENT_MAIL = datetime.timedelta(days=90)
# Interrupted runs older than this are not restarted any more.
RESTART_WINDOW = datetime.timedelta(days=2)


def interrupted_runs(settings, now):
    """(job, slot) of runs a dead consumer left 'running' that are still
    worth finishing; the others are marked failed."""
    now_utc = naive_utc(now)
    running = list(JobRun.select()
                   .where(JobRun.status == 'running',
                          JobRun.started_at > now_utc - RESTART_WINDOW))
    restart, known = [], periodic.jobs(settings)
    for run in running:
        if run.job not in known or not schedule.abandoned(run, now_utc):
            continue
        if known[run.job].still_meaningful(run.slot, now):
            restart.append((run.job, run.slot))
        else:
            schedule.finish(run, 'failed', error='interrupted: the consumer running it stopped')
    return restart


def prune(now):
    now_utc = naive_utc(now)
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


def abandoned_mail(settings, now):
    released, in_doubt = mail.recover_abandoned(naive_utc(now))
    return {'mail_released': released, 'mail_in_doubt': in_doubt}


def restartable_runs(settings, now):
    return {'interrupted': interrupted_runs(settings, now)}


def due_mail(settings, now):
    return {'mail_due': mail.due_count(naive_utc(now)) if settings.smtp_host else 0}


def old_history(settings, now):
    return {'pruned': prune(now)}


def expired_exports(settings, now):
    return {'expired_exports': exports.delete_expired(settings, naive_utc(now))}


def interrupted_exports(settings, now):
    return {'interrupted_exports': exports.recover_interrupted(settings, naive_utc(now))}


def old_failures(settings, now):
    return {'prune_failures': task_control.prune_failures(settings, now)}


STEPS = (abandoned_mail, restartable_runs, due_mail, old_history, expired_exports,
         interrupted_exports, old_failures)


def run(settings, now):
    """One pass; returns what it found and did."""
    report = {}
    for step in STEPS:
        try:
            report.update(step(settings, now))
        except Exception:
            log.exception('housekeeping step %s failed', step.__name__)
            report.setdefault('failed', []).append(step.__name__)
    return report
