"""The Huey consumer process: thread workers, the periodic scheduler, a
heartbeat thread for /healthz, and task statistics for the status page."""
import logging
import threading

from huey.contrib.stats import enable_stats

from app import schedule, workers
from app.db import database
from app.queue import huey
from app.services import task_control

log = logging.getLogger('clinicdesk.worker')


def _heartbeat_loop(periodic, interval, stop):
    failing = False
    while True:
        try:
            with database.connection_context():
                workers.beat(periodic)
                schedule.finish_unwritten()
            if failing:
                log.info('heartbeat recovered')
            failing = False
        except Exception as exc:
            if not failing:  # one line per outage, not one per beat
                log.warning('heartbeat failed: %s', exc)
            failing = True
        if stop.wait(interval):
            return


def run_consumer(settings, periodic=True):
    """Run the consumer of the tasks registered on `huey` (run.py imports
    tasks.py first) until it is stopped."""
    enable_stats(huey, database.obj)
    task_control.install_consumer_hooks(huey)  # pause, failures, quiet outages
    consumer = huey.create_consumer(
        workers=settings.workers,
        worker_type='thread',
        periodic=periodic,
        # SQLite storage is polled: poll fast, back off only to a short max,
        # so an export starts within ~0.1 s of the click (Redis blocks instead).
        initial_delay=settings.queue_poll_min,
        max_delay=settings.queue_poll_max,
        backoff=1.5,
        check_worker_health=True,
        # SIGTERM (docker stop, the supervisor) = finish running tasks, up
        # to shutdown_timeout; a second SIGTERM stops at once.
        graceful_signal='TERM',
        shutdown_timeout=settings.shutdown_timeout,
    )
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, daemon=True, name='heartbeat',
                            args=(periodic, settings.heartbeat_seconds, stop))
    beat.start()
    try:
        consumer.run()
    finally:
        stop.set()
    log.info('worker stopped')
    return 0
