"""What /admin/status shows: the queue, the workers, every periodic job,
recent task runs, final failures and the outbox, in one snapshot.

Runs and durations come from huey.contrib.stats (the consumer records every
Huey signal in huey_event / huey_inflight); the slot ledger (JobRun) says how
the clinic-time jobs last went; TaskFailure keeps tracebacks and arguments.
Every part reads what it can: with Redis down the page still answers, with
the queue figures shown as unknown.
"""
import datetime
import json

from huey import signals as S
from huey.contrib.stats import HueyEvent, HueyInflight

from app import mail, schedule
from app.db import database
from app.models import WorkerHeartbeat
from app.queue import backend_name
from app.services import health, task_control

UTC = datetime.timezone.utc
RECENT_LIMIT = 50
FAILURES_LIMIT = 20

# Signals that end one run of a task, and what the page calls them.
RUN_ENDS = {
    S.SIGNAL_COMPLETE: 'success',
    S.SIGNAL_ERROR: 'failed',
    S.SIGNAL_TIMEOUT: 'failed',
    S.SIGNAL_CANCELED: 'cancelled',
    S.SIGNAL_INTERRUPTED: 'interrupted',
    S.SIGNAL_EXPIRED: 'expired',
    S.SIGNAL_REVOKED: 'revoked',
    S.SIGNAL_LOCKED: 'skipped',
}
LEDGER_STATUS = {'running': 'running', 'success': 'success', 'failed': 'failed'}

# How far ahead to look for minutes a plain crontab matches: three runs of a
# weekly job fit.
CRON_HORIZON = datetime.timedelta(days=15)


def snapshot(settings, clock, huey):
    now = clock.now()
    return {
        'queue': queue(huey),
        'worker': worker(settings, clock),
        'periodic': periodic(settings, clock, huey, now),
        'recent': recent(clock, huey),
        'failures': failures(clock, huey),
        'outbox': mail.counts(),
        'generated_at': _iso(now),
    }


# ---- queue and workers ----------------------------------------------------------

def queue(huey):
    try:
        pending, scheduled, up = huey.pending_count(), huey.scheduled_count(), True
    except Exception:
        pending, scheduled, up = None, None, False
    return {'backend': backend_name(), 'pending': pending, 'scheduled': scheduled, 'up': up}


def worker(settings, clock):
    beats = list(WorkerHeartbeat
                 .select()
                 .order_by(WorkerHeartbeat.beat_at.desc())
                 .limit(20))
    since = clock.utcnow() - health.worker_window(settings)
    alive = [beat for beat in beats if beat.beat_at > since]
    return {
        'alive': bool(alive),
        'last_heartbeat': clock.iso(beats[0].beat_at) if beats else None,
        'count': len(alive),
        # Periodic jobs run only where a consumer runs the scheduler.
        'scheduler': any(beat.periodic for beat in alive),
    }


# ---- periodic jobs ----------------------------------------------------------------

def periodic(settings, clock, huey, now):
    ledger_jobs = schedule.jobs(settings)
    paused = task_control.paused_names()
    running = _in_flight(huey)
    items = []
    for name, task_class in task_control.periodic_classes(huey).items():
        full = huey._registry.task_to_string(task_class)
        if name in ledger_jobs:
            item = _ledger_job(ledger_jobs[name], settings, clock, now)
        else:
            item = _cron_job(task_class, full, clock, now)
        if full in running and item['last_status'] != 'running':
            item['last_status'] = 'running'
        item['paused'] = name in paused
        if item['paused']:
            item['next_run_at'] = None
        items.append({'name': name, **item})
    return items


def _ledger_job(job, settings, clock, now):
    run = schedule.last_run(job.name)
    return {
        'schedule': job.schedule,
        'last_run_at': clock.iso(run.started_at) if run else None,
        'last_status': LEDGER_STATUS.get(run.status, run.status) if run else None,
        'last_error': run.error if run else None,
        'last_summary': _summary(run),
        'next_run_at': _iso(schedule.next_run_at(job.name, now, settings)),
        'run_now': True,
    }


def _summary(run):
    """A job's own one-line account of its last run (e.g. a backup's size)."""
    try:
        detail = json.loads(run.detail) if run and run.detail else None
    except ValueError:
        return None
    return detail.get('summary') if isinstance(detail, dict) else None


def _cron_job(task_class, full, clock, now):
    last = _events_of(full).where(HueyEvent.signal.in_(list(RUN_ENDS))).first(database.obj)
    upcoming = cron_matches(task_class, now, count=1)
    started = last.ts - (last.duration or 0) if last else None
    return {
        'schedule': _cron_words(task_class, now),
        'last_run_at': _iso_ts(started, clock) if last else None,
        'last_status': RUN_ENDS[last.signal] if last else None,
        'last_error': last.error if last else None,
        'next_run_at': _iso(upcoming[0].astimezone(clock.tz)) if upcoming else None,
        'run_now': False,
    }


_words = {}


def _cron_words(task_class, now):
    # A crontab never changes while the process runs; describe it once.
    if task_class not in _words:
        _words[task_class] = describe_cron(cron_matches(task_class, now, count=3))
    return _words[task_class]


def cron_matches(task_class, now, count=3):
    """The next `count` minutes (aware UTC) after `now` at which a plain
    crontab periodic task falls due. Huey evaluates these crontabs on naive
    UTC, so the scan does too."""
    task = task_class()
    minute = now.astimezone(UTC).replace(second=0, microsecond=0, tzinfo=None)
    end = minute + CRON_HORIZON
    found = []
    while minute < end and len(found) < count:
        minute += datetime.timedelta(minutes=1)
        if task.validate_datetime(minute):
            found.append(minute.replace(tzinfo=UTC))
    return found


def describe_cron(matches):
    """A crontab in words, from the minutes it matches."""
    if not matches:
        return 'not within the next two weeks'
    gaps = {(b - a) for a, b in zip(matches, matches[1:])}
    first = matches[0]
    if len(gaps) == 1:
        gap = gaps.pop()
        minutes = int(gap.total_seconds() // 60)
        if minutes == 1:
            return 'every minute'
        if minutes < 60 and 60 % minutes == 0:
            return f'every {minutes} minutes'
        if minutes == 60:
            return f'every hour at :{first:%M}'
        if minutes == 1440:
            return f'every day at {first:%H:%M} UTC'
        if minutes == 10080:
            return f'every {first:%A} at {first:%H:%M} UTC'
    return 'at ' + ', '.join(f'{m:%a %H:%M}' for m in matches) + ' UTC, …'


# ---- runs ---------------------------------------------------------------------------

def _events_of(full):
    return (HueyEvent
            .select()
            .where(HueyEvent.task == full)
            .order_by(HueyEvent.ts.desc(), HueyEvent.id.desc()))


def _stats_ready():
    return database.table_exists(HueyEvent._meta.table_name)


def _in_flight(huey):
    if not _stats_ready():
        return {}
    rows = (HueyInflight
            .select()
            .where(HueyInflight.queue == huey.name)
            .order_by(HueyInflight.started.desc()))
    return {row.task: row for row in rows.execute(database.obj)}


def recent(clock, huey, limit=RECENT_LIMIT):
    """Newest first: runs in flight, then finished runs with their duration.
    A failure Huey will retry shows as 'retrying'."""
    if not _stats_ready():
        return []
    now_ts = clock.now().timestamp()
    items = [{'task': task_control.short_name(row.task), 'task_id': row.task_id,
              'status': 'running', 'started_at': _iso_ts(row.started, clock),
              'duration_ms': int((now_ts - row.started) * 1000), 'error': None}
             for row in (HueyInflight
                         .select()
                         .where(HueyInflight.queue == huey.name)
                         .order_by(HueyInflight.started.desc())
                         .limit(limit)
                         .execute(database.obj))]
    events = (HueyEvent
              .select()
              .where(HueyEvent.queue == huey.name,
                     HueyEvent.signal.in_(list(RUN_ENDS) + [S.SIGNAL_RETRYING]))
              .order_by(HueyEvent.ts.desc(), HueyEvent.id.desc())
              .limit(limit * 2))
    retrying = set()
    for event in events.execute(database.obj):
        if event.signal == S.SIGNAL_RETRYING:
            retrying.add(event.task_id)  # newest first: it follows its error
            continue
        status = RUN_ENDS[event.signal]
        if status == 'failed' and event.task_id in retrying:
            status = 'retrying'
            retrying.discard(event.task_id)
        duration = event.duration or 0.0
        items.append({'task': task_control.short_name(event.task), 'task_id': event.task_id,
                      'status': status, 'started_at': _iso_ts(event.ts - duration, clock),
                      'duration_ms': int(round(duration * 1000)) if event.duration is not None
                      else None,
                      'error': event.error})
    return items[:limit]


def failures(clock, huey, limit=FAILURES_LIMIT):
    items = []
    for failure in task_control.failures(limit):
        items.append({
            'task': task_control.short_name(failure.task), 'task_id': failure.task_id,
            'error': failure.error, 'traceback': failure.traceback,
            'failed_at': clock.iso(failure.failed_at),
            'retried_at': clock.iso(failure.retried_at),
            'can_retry': (failure.retried_at is None and failure.arguments is not None
                          and failure.task in huey._registry._registry),
        })
    return items


# ---- time ---------------------------------------------------------------------------

def _iso(aware):
    return aware.isoformat(timespec='seconds') if aware else None


def _iso_ts(ts, clock):
    return datetime.datetime.fromtimestamp(ts, clock.tz).isoformat(timespec='seconds')
