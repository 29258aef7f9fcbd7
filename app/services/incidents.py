"""Incidents: what the clinic is alerted about (SPEC §11), each mailed once.

An incident is opened once per (job, kind) while it is open: the database
refuses a second open row (models.Incident), so reruns, two workers or two
housekeeping passes that notice the same trouble open, and mail, one. The
alert goes through the outbox under a key per incident and recipient.

Kinds: `failing` (a task's last FAILING_AFTER runs failed), `overdue` (a
clinic-time job has not succeeded within its period plus an hour),
`backup_failed` (the nightly backup failed for good), `mail_failing` (the
mail server refused a message for good). A job that succeeds again closes
its open incidents; `mail_failing` has no such success, so an admin closes
it. Details name a job, a kind and a count, never a patient.
"""
import datetime
import hashlib
import logging

import peewee

from app import mail, schedule
from app.clock import UTC, naive_utc
from app.db import database
from app.errors import conflict, not_found
from app.models import FailureStreak, Incident, JobRun, OutboxMessage, User, WorkerHeartbeat, \
    utcnow
from app.services import audit, periodic, task_control
from app.templating import render_email

log = logging.getLogger('clinicdesk.incidents')

KINDS = {
    'failing': 'failed 3 times in a row',
    'overdue': 'has not succeeded within its period plus 1 hour',
    'backup_failed': 'the nightly backup failed',
    'mail_failing': 'the mail server refused a message',
}
FAILING_AFTER = 3
OVERDUE_GRACE = datetime.timedelta(hours=1)
# A task whose one final failure is an incident of its own kind.
FINAL_FAILURE_KINDS = {'nightly_backup': 'backup_failed'}
DELIVERY_JOB = 'deliver_outbox'
ALERT_KEY = 'alert:'


def job_of(task_name):
    """The job a task runs for: '<job>_for' (a "Run now") is its clinic-time job."""
    base = task_name.removesuffix('_for')
    return base if base != task_name and base in periodic.JOBS else task_name


def open_incident(settings, job, kind, detail, now_utc=None):
    """Open (job, kind) and queue its alert, unless it is open already:
    the new Incident, or None. The caller queues delivery."""
    now_utc = now_utc or utcnow()
    with database.atomic():
        inserted = list(Incident.insert(job=job, kind=kind, detail=detail[:300],
                                        opened_at=now_utc)
                        .on_conflict_ignore()
                        .returning(Incident.id)
                        .execute())
        if not inserted:
            return None
        incident = Incident.get_by_id(inserted[0].id)
        _queue_alert(settings, incident)
    log.warning('incident opened: %s %s', job, kind)
    return incident


def recipients(settings):
    if settings.alert_email:
        return [settings.alert_email]
    return [email for (email,) in (User.select(User.email)
                                   .where(User.role == 'admin',
                                          User.active == True,  # noqa: E712
                                          User.email.is_null(False))
                                   .order_by(User.id)
                                   .tuples())]


def _queue_alert(settings, incident):
    when = incident.opened_at.replace(tzinfo=UTC).astimezone(settings.tz)
    subject = f'[{settings.clinic_name}] Alert: {incident.job} {KINDS[incident.kind]}'
    text = render_email('mail/alert.txt', incident=incident, what=KINDS[incident.kind],
                        when=f'{when:%Y-%m-%d %H:%M} ({settings.tz.key})',
                        status_url=f'{settings.base_url}/admin/status',
                        clinic=settings.clinic_name)
    mail.queue_messages([{'dedupe_key': alert_key(incident, to), 'to': to, 'subject': subject,
                          'text': text} for to in recipients(settings)])


def alert_key(incident, to):
    # Hashed: the dedupe key column is shorter than an address may be.
    return f'{ALERT_KEY}{incident.id}:{hashlib.sha256(to.encode()).hexdigest()[:16]}'


def resolve_job(job, now_utc=None):
    """The job succeeded: close its open incidents (not mail_failing)."""
    return (Incident.update(resolved_at=now_utc or utcnow())
            .where(Incident.job == job, Incident.resolved_at.is_null(),
                   Incident.kind != 'mail_failing')
            .execute())


def resolve_by(user, incident_id, ip=None):
    """An admin closes an open incident; audited. 404 unknown, 409 closed."""
    incident = Incident.get_or_none(Incident.id == incident_id)
    if incident is None:
        raise not_found('incident not found')
    with database.atomic():
        closed = (Incident.update(resolved_at=utcnow(), resolved_by=user.id)
                  .where(Incident.id == incident.id, Incident.resolved_at.is_null())
                  .execute())
        if not closed:
            raise conflict('this incident is resolved already')
        audit.record('incident.resolve', user, None, f'incident:{incident.id}', ip)
    return Incident.get_by_id(incident.id)


def open_incidents():
    return list(Incident.select()
                .where(Incident.resolved_at.is_null())
                .order_by(Incident.opened_at.desc(), Incident.id.desc()))


def task_ran(settings, task_name, failed, final, error_type=None, now_utc=None):
    """Huey's signal of one run of a task, in the consumer: count failures
    in a row, open `failing` at FAILING_AFTER (and a job's own kind on its
    final failure), close the job's incidents on success. The incidents
    opened, for the caller to queue their mail."""
    job = job_of(task_name)
    if not failed:
        # A read first: most runs succeed and have no streak to end.
        if FailureStreak.get_or_none(FailureStreak.job == job) is not None:
            FailureStreak.delete().where(FailureStreak.job == job).execute()
            resolve_job(job, now_utc)
        return []
    now_utc = now_utc or utcnow()
    (FailureStreak.insert(job=job, failures=1, last_failed_at=now_utc)
     .on_conflict(conflict_target=[FailureStreak.job],
                  update={FailureStreak.failures: FailureStreak.failures + 1,
                          FailureStreak.last_failed_at: now_utc})
     .execute())
    streak = FailureStreak.get_by_id(job).failures
    opened = []
    cause = f' (last error: {error_type})' if error_type else ''
    if streak >= FAILING_AFTER:
        opened.append(open_incident(settings, job, 'failing',
                                    f'{streak} runs in a row failed{cause}', now_utc))
    if final and job in FINAL_FAILURE_KINDS:
        opened.append(open_incident(settings, job, FINAL_FAILURE_KINDS[job],
                                    f'the run failed after its retries{cause}', now_utc))
    return [incident for incident in opened if incident]


def mail_refused(settings, message_ids, now_utc=None):
    """Messages the server refused for good: one `mail_failing` incident
    while open. Refused alerts do not count: an alert about an alert that
    cannot be delivered would only be refused again."""
    refused = (OutboxMessage.select()
               .where(OutboxMessage.id.in_(list(message_ids)),
                      OutboxMessage.status == 'failed',
                      ~OutboxMessage.dedupe_key.startswith(ALERT_KEY))
               .count()) if message_ids else 0
    if not refused:
        return None
    return open_incident(settings, DELIVERY_JOB, 'mail_failing',
                         f'{refused} message(s) refused by the mail server; '
                         'see the outbox, filter Failed', now_utc)


def scheduler_since():
    """When the consumers running the scheduler began (naive UTC), or None.
    Rows of consumers silent for a day are gone (app.workers.beat), so a
    long outage starts the count again."""
    return (WorkerHeartbeat.select(peewee.fn.MIN(WorkerHeartbeat.started_at))
            .where(WorkerHeartbeat.periodic == True)  # noqa: E712
            .scalar())


def last_successes(jobs):
    """{job: when it last ran to the end} for those of `jobs` that ever did,
    'partial' included: such a run did its work and skipped a bad record,
    which batch.each reports on its own. One query."""
    return dict(JobRun.select(JobRun.job, peewee.fn.MAX(JobRun.finished_at))
                .where(JobRun.job.in_(list(jobs)), JobRun.status.in_(schedule.DONE))
                .group_by(JobRun.job)
                .tuples())


def overdue(settings, now):
    """Housekeeping's check of the clinic-time jobs: a job that has not
    succeeded by an hour after its next slot following its last success
    is overdue. Before a job's first success, the count starts when the
    scheduler did: a fresh install gives every job its chance first.
    Paused jobs are left alone. {'opened': [...], 'closed': n}."""
    since = scheduler_since()
    if since is None:
        return {'opened': [], 'closed': 0}
    paused = task_control.paused_names()
    now_utc = naive_utc(now)
    # Read first: a pass with nothing to close writes nothing.
    open_now = {job for (job,) in (Incident.select(Incident.job)
                                   .where(Incident.kind == 'overdue',
                                          Incident.resolved_at.is_null())
                                   .tuples())}
    opened, closed = [], 0
    clinic_jobs = periodic.jobs(settings)
    successes = last_successes(clinic_jobs)
    for name, job in clinic_jobs.items():
        if name in paused:
            continue
        success = successes.get(name)
        reference = max(success, since) if success else since
        due = job.next_slot(reference.replace(tzinfo=UTC)).at
        if now > due + OVERDUE_GRACE:
            detail = (f'no success since {_clinic(success, settings)}' if success
                      else 'it has not succeeded yet')
            opened.append(open_incident(settings, name, 'overdue',
                                        f'due {due:%Y-%m-%d %H:%M}; {detail}', now_utc))
        elif name in open_now:
            closed += (Incident.update(resolved_at=now_utc)
                       .where(Incident.job == name, Incident.kind == 'overdue',
                              Incident.resolved_at.is_null())
                       .execute())
    return {'opened': [incident for incident in opened if incident], 'closed': closed}


def _clinic(stored, settings):
    return f'{stored.replace(tzinfo=UTC).astimezone(settings.tz):%Y-%m-%d %H:%M}'


def to_json(incident, clock):
    return {'id': incident.id, 'job': incident.job, 'kind': incident.kind,
            'what': KINDS.get(incident.kind, incident.kind), 'detail': incident.detail,
            'opened_at': clock.iso(incident.opened_at),
            'resolved_at': clock.iso(incident.resolved_at),
            'resolved_by': incident.resolved_by_id}
