"""The Huey instance. Tasks in tasks.py decorate it at import time; its
storage is chosen at start from the settings (SQLite file in the data dir by
default, Redis when REDIS_URL is set)."""
import logging

from huey.storage import MemoryStorage, PriorityRedisExpireStorage, SqliteStorage

from app.pausable_huey import PausableHuey

log = logging.getLogger('clinicdesk.queue')

QUEUE_NAME = 'clinicdesk'

# Results (export status, task outcomes) kept in Redis for a week; the SQLite
# storage keeps them until read without preserve, and housekeeping prunes.
RESULT_TTL_SECONDS = 7 * 86400

# Higher runs first (Redis). A patient waiting on an export should not sit
# behind a batch of reminder emails.
PRIORITY_INTERACTIVE = 10
PRIORITY_BATCH = 0

huey = PausableHuey(QUEUE_NAME, storage_class=MemoryStorage, utc=True)


def configure_queue(settings):
    """Point the shared Huey instance at the configured storage."""
    if settings.redis_url:
        from redis import ConnectionPool  # loaded only where Redis is used
        # Short socket timeouts: with Redis down an enqueue fails fast (503),
        # it does not hang a web thread.
        pool = ConnectionPool.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5,
            health_check_interval=10)
        huey.storage = PriorityRedisExpireStorage(
            QUEUE_NAME, connection_pool=pool, expire_time=RESULT_TTL_SECONDS)
    else:
        huey.storage = SqliteStorage(
            QUEUE_NAME, filename=str(settings.data_dir / 'queue.db'), timeout=5)
    return huey


def backend_name():
    return 'redis' if isinstance(huey.storage, PriorityRedisExpireStorage) else 'sqlite'


def queue_is_up():
    """True when the queue storage answers."""
    try:
        huey.storage.queue_size()
        return True
    except Exception:
        return False
