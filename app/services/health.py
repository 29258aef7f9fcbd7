"""Health of the parts /healthz reports: database, queue, worker; and
whether a given process is still alive."""
import datetime
import os

from app.db import database
from app.models import WorkerHeartbeat, utcnow
from app.queue import queue_is_up


def worker_window(settings):
    """A consumer whose last beat is older than this is taken for dead."""
    return datetime.timedelta(seconds=max(15.0, settings.heartbeat_seconds * 3))


def last_heartbeat():
    return WorkerHeartbeat.select().order_by(WorkerHeartbeat.beat_at.desc()).first()


def check(settings):
    report = {'database': 'down', 'queue': 'ok' if queue_is_up() else 'down', 'worker': 'down'}
    try:
        database.execute_sql('SELECT 1')
        report['database'] = 'ok'
        beat = last_heartbeat()
        if beat and beat.beat_at > utcnow() - worker_window(settings):
            report['worker'] = 'ok'
    except Exception:
        pass
    return report


def beat(worker_name, periodic, now=None):
    now = now or utcnow()
    updated = (WorkerHeartbeat.update(beat_at=now, periodic=periodic)
               .where(WorkerHeartbeat.worker == worker_name).execute())
    if not updated:
        WorkerHeartbeat.insert(worker=worker_name, beat_at=now, started_at=now,
                               periodic=periodic).on_conflict_ignore().execute()
    # Forget consumers that have been silent for a day.
    (WorkerHeartbeat.delete()
     .where(WorkerHeartbeat.beat_at < now - datetime.timedelta(days=1))
     .execute())


def pid_alive(pid):
    """Whether process `pid` on this host is running (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead
        with open(f'/proc/{pid}/stat') as fh:
            return fh.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return True
