"""Housekeeping, run every minute by the consumer: one sweep over the claim
ledgers for work a dead worker left behind, mail that is due again, pruning
of old history, and the check for overdue jobs (app.services.incidents).

Its steps are listed in STEPS, in the order they run. Each takes (settings,
now) and returns what it found and did, merged into the pass's report; one
that fails is logged and named under 'failed', and the others still run.
What must go back on the queue (interrupted job runs, exports, report runs)
is returned for the housekeeping task to queue.
"""
import datetime
import logging

from app import mail, schedule
from app.clock import naive_utc
from app.models import JobRun, OutboxMessage
from app.services import exports, incidents, login_throttle, periodic, report_runs, task_control

log = logging.getLogger('clinicdesk.housekeeping')

KEEP_JOB_RUNS = datetime.timedelta(days=90)
KEEP_SENT_MAIL = datetime.timedelta(days=90)


def lost_mail(settings, now):
    """Outbox claims whose worker died, settled here."""
    released, in_doubt = mail.recover_abandoned(naive_utc(now))
    return {'mail_released': released, 'mail_in_doubt': in_doubt}


def lost_slots(settings, now):
    """Periodic slots whose worker died, returned to queue again."""
    return {'interrupted': schedule.recover(periodic.jobs(settings), now)}


def lost_exports(settings, now):
    """Exports whose worker died, or whose task left the queue unclaimed."""
    return {'interrupted_exports': exports.recover_interrupted(naive_utc(now))}


def lost_reports(settings, now):
    """Report runs whose worker died, or whose task left the queue unclaimed."""
    return {'interrupted_reports': report_runs.recover(naive_utc(now))}


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
    throttle_keys = login_throttle.forget_quiet(now_utc)
    # Huey's task events are pruned by huey.contrib.stats itself (48 h).
    return {'job_runs': runs, 'sent_mail': sent, 'throttle_keys': throttle_keys}


def due_mail(settings, now):
    return {'mail_due': mail.due_count(naive_utc(now)) if settings.smtp_host else 0}


def old_history(settings, now):
    return {'pruned': prune(now)}


def expired_exports(settings, now):
    return {'expired_exports': exports.delete_expired(settings, naive_utc(now))}


def old_failures(settings, now):
    return {'prune_failures': task_control.prune_failures(settings, now)}


def overdue_jobs(settings, now):
    """Alerts for clinic-time jobs that have not succeeded in time; `alerts`
    asks the task to deliver the mail just queued."""
    found = incidents.overdue(settings, now)
    return {'alerts': len(found['opened']), 'overdue_closed': found['closed']}


# The sweep over the claim ledgers (app.workers) is one step per ledger, so
# a ledger that cannot be read does not keep the others' work lost.
STEPS = (lost_mail, lost_slots, lost_exports, lost_reports, due_mail, old_history,
         expired_exports, old_failures, overdue_jobs)


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
