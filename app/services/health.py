"""Health of the parts /healthz reports: database, queue, worker."""
from app import workers
from app.db import database
from app.models import WorkerHeartbeat, utcnow
from app.queue import queue_is_up


def worker_window(settings):
    """A consumer whose last beat is older than this is taken for dead."""
    return workers.window(settings)


def last_heartbeat():
    return WorkerHeartbeat.select().order_by(WorkerHeartbeat.beat_at.desc()).first()


def check(settings):
    report = {'database': 'down', 'queue': 'ok' if queue_is_up() else 'down', 'worker': 'down'}
    try:
        database.execute_sql('SELECT 1')
        report['database'] = 'ok'
        beat = last_heartbeat()
        if beat and beat.beat_at > utcnow() - workers.window(settings):
            report['worker'] = 'ok'
    except Exception:
        pass
    return report
