"""Keep the consumer's log readable while the queue storage is down.

Huey's workers and scheduler log a full traceback on every failed poll; with
Redis stopped that is a few lines per worker per 0.1 s (about 1 MB in 15 s).
The filter lets the first error of an outage through as one line, then one
line a minute while it lasts, with the number of errors it held back.
"""
import logging
import threading
import time

from app.redis_errors import unreachable

CONSUMER_LOGGERS = ('huey.consumer', 'huey.consumer.Worker', 'huey.consumer.Scheduler')


class QueueOutageFilter(logging.Filter):
    def __init__(self, every=60.0, clock=time.monotonic):
        super().__init__()
        self.every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._quiet_until = None
        self._held_back = 0

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, unreachable()):
            return True
        now = self._clock()
        with self._lock:
            if self._quiet_until is not None and now < self._quiet_until:
                self._held_back += 1
                return False
            held_back, self._held_back = self._held_back, 0
            self._quiet_until = now + self.every
        note = f'; {held_back} more like it since the last note' if held_back else ''
        record.msg = (f'{record.getMessage()}: queue unavailable '
                      f'({type(exc).__name__}: {exc}); retrying, next note in '
                      f'{self.every:.0f} s{note}')
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, 'WARNING'
        return True


def quiet_queue_outages(every=60.0):
    """Install one shared filter on the consumer's loggers (a logger's
    filter does not see records of its children, hence each by name)."""
    shared = QueueOutageFilter(every)
    for name in CONSUMER_LOGGERS:
        logging.getLogger(name).addFilter(shared)
    return shared
