"""What /admin/status shows: open incidents, the queue, the workers, every
periodic job, recent task runs, final failures and the outbox (with its
uncertain messages), in one snapshot.

Runs and durations come from huey.contrib.stats: the consumer records every
Huey signal (app.consumer) and this module reads them back through its
HueyStats API. The slot ledger (JobRun) says how the clinic-time jobs last
went; TaskFailure keeps tracebacks and arguments. Every part reads what it
can: with Redis down the page still answers, with the queue figures shown
as unknown.
"""
import datetime

from huey import signals as S
from huey.contrib import stats as huey_stats

from app import mail, schedule
from app.clock import naive_utc
from app.db import database
from app.models import WorkerHeartbeat
from app.queue import backend_name
from app.services import health, incidents, task_control
from app.services import periodic as clinic_jobs

UTC = datetime.timezone.utc
RECENT_LIMIT = 50
FAILURES_LIMIT = 20
# Events read to find RECENT_LIMIT runs: a run leaves a few (enqueued,
# executing, its end, and retrying/scheduled when it failed).
EVENTS_PER_RUN = 5
# Events of one plain cron task read to find its last finished run.
LAST_RUN_EVENTS = 20

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

# How far ahead to look for minutes a plain crontab matches: three runs of a
# weekly job fit.
CRON_HORIZON = datetime.timedelta(days=15)


def snapshot(settings, clock, huey):
    now = clock.now()
    stats = task_stats(huey)
    return {
        'queue': queue(huey),
        'worker': worker(settings, clock),
        'periodic': periodic(settings, clock, huey, now, stats),
        'recent': recent(clock, stats),
        'failures': failures(clock, huey),
        'outbox': mail.counts(),
        'incidents': [incidents.to_json(item, clock) for item in incidents.open_incidents()],
        'generated_at': _iso(now),
    }


def task_stats(huey):
    """Huey's stats of `huey`, read from our database; None until a
    consumer has created their tables."""
    if huey_stats.database.obj is None:
        # Huey's stats models have a database proxy of their own.
        huey_stats.database.initialize(database)
    if not database.table_exists(huey_stats.HueyEvent._meta.table_name):
        return None
    # Reading only: connect() (signal handlers, a writer thread) is the consumer's.
    return huey_stats.HueyStats(huey, database, create_tables=False)


def is_running(huey, task_id):
    stats = task_stats(huey)
    return bool(stats) and any(row['id'] == task_id for row in stats.inflight())


def queue(huey):
    # Not huey_stats.live_counts(): it also counts results, which scans the
    # whole keyspace of a Redis whose results expire.
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


def periodic(settings, clock, huey, now, stats=None):
    stats = stats or task_stats(huey)
    ledger_jobs = clinic_jobs.jobs(settings)
    paused = task_control.paused_names()
    running = {row['task'] for row in stats.inflight()} if stats else set()
    items = []
    for name, task_class in huey.periodic_classes.items():
        if name in ledger_jobs:
            item = _ledger_job(ledger_jobs[name], settings, clock, now)
        elif name in clinic_jobs.JOBS:
            continue  # turned off: its time setting is unset
        else:
            item = _cron_job(task_class, stats, clock, now)
        if name in running and item['last_status'] != 'running':
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
        'last_status': run.status if run else None,
        'last_error': run.error if run else None,
        'last_summary': _summary(run),
        'next_run_at': _iso(job.next_slot(now).at),
        'run_now': True,
    }


def _summary(run):
    """A job's own one-line account of its last run (e.g. a backup's size)."""
    detail = run.detail if run else None
    return detail.get('summary') if isinstance(detail, dict) else None


def _cron_job(task_class, stats, clock, now):
    last = _last_run_end(stats, task_class)
    upcoming = cron_matches(task_class, now, count=1)
    started = last['ts'] - (last['duration'] or 0) if last else None
    return {
        'schedule': _cron_words(task_class, now),
        'last_run_at': _iso_ts(started, clock) if last else None,
        'last_status': RUN_ENDS[last['signal']] if last else None,
        'last_error': last['error'] if last else None,
        'next_run_at': _iso(upcoming[0].astimezone(clock.tz)) if upcoming else None,
        'run_now': False,
    }


def _last_run_end(stats, task_class):
    if stats is None:
        return None
    _, events = stats.search_events(task=f'{task_class.__module__}.{task_class.__name__}',
                                    limit=LAST_RUN_EVENTS)
    return next((event for event in events if event['signal'] in RUN_ENDS), None)


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
    minute = naive_utc(now).replace(second=0, microsecond=0)
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


def recent(clock, stats, limit=RECENT_LIMIT):
    """Newest first: runs in flight, then finished runs with their duration.
    A failure Huey will retry shows as 'retrying'."""
    if stats is None:
        return []
    now_ts = clock.now().timestamp()
    items = [{'task': row['task'], 'task_id': row['id'], 'status': 'running',
              'started_at': _iso_ts(row['started'], clock),
              'duration_ms': int((now_ts - row['started']) * 1000), 'error': None}
             for row in reversed(stats.inflight())][:limit]
    retrying = set()
    for event in stats.recent_events(limit * EVENTS_PER_RUN):
        if event['signal'] == S.SIGNAL_RETRYING:
            retrying.add(event['task_id'])  # newest first: it follows its error
            continue
        if event['signal'] not in RUN_ENDS:
            continue
        status = RUN_ENDS[event['signal']]
        if status == 'failed' and event['task_id'] in retrying:
            status = 'retrying'
            retrying.discard(event['task_id'])
        items.append(_finished_run(event, status, clock))
    return items[:limit]


def _finished_run(event, status, clock):
    duration = event['duration']
    return {'task': event['task'], 'task_id': event['task_id'], 'status': status,
            'started_at': _iso_ts(event['ts'] - (duration or 0.0), clock),
            'duration_ms': int(round(duration * 1000)) if duration is not None else None,
            'error': event['error']}


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


def _iso(aware):
    return aware.isoformat(timespec='seconds') if aware else None


def _iso_ts(ts, clock):
    return datetime.datetime.fromtimestamp(ts, clock.tz).isoformat(timespec='seconds')
