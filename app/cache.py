"""A small cache: Redis when REDIS_URL is set, else a dict in this process.

Several web processes each have their own in-process cache, and a write
handled by one of them drops only that process's copy; the others keep
serving theirs until it expires. That is why Redis is the cache whenever it
is configured: one copy, dropped for everyone.

The cache is never a reason to fail a request: with Redis down a read is a
miss (the caller computes the value) and a write or delete does nothing.

With Redis, each process also keeps what it read for up to NEAR_SECONDS, so
a hot key (the admin figures, polled by dashboards) costs no round trip.
Every delete and incr publishes the key on CHANNEL and every process drops
its copy on that message; a process uses its copies only while its
subscription is up, so an invalidation is never missed, only delivered a
moment later.
"""
import json
import logging
import threading
import time

import redis

from app import runtime

log = logging.getLogger('clinicdesk.cache')

KEY_PREFIX = 'clinicdesk:cache:'
# Far below a request's patience: a cache that does not answer at once is
# skipped, the database answers instead.
SOCKET_TIMEOUT = 0.5
# After a failure, requests skip Redis for this long instead of each paying
# a connect timeout (which matters when packets vanish rather than bounce).
RETRY_AFTER = 1.0

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
NEAR_SECONDS = 1.0
CHANNEL = KEY_PREFIX + 'invalidated'


class MemoryCache:
    """Thread-safe dict with expiry. `clock` returns seconds (monotonic)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._items = {}
        self._lock = threading.Lock()

    def get(self, key):
        return self.get_many([key])[0]

    def get_many(self, keys):
        now = self._clock()
        with self._lock:
            values = []
            for key in keys:
                value, expires = self._items.get(key, (None, None))
                if expires is not None and expires <= now:
                    del self._items[key]
                    value = None
                values.append(value)
            return values

    def set(self, key, value, ttl=None):
        expires = self._clock() + ttl if ttl else None
        with self._lock:
            self._items[key] = (value, expires)

    def delete(self, key):
        with self._lock:
            self._items.pop(key, None)

    def incr(self, key):
        with self._lock:
            value, expires = self._items.get(key, (0, None))
            self._items[key] = (value + 1, expires)
            return value + 1


class RedisCache:
    """Values are JSON under KEY_PREFIX. Failures are logged once per
    outage; deletes lost in an outage are replayed when Redis answers again,
    so a stale copy does not outlive the outage."""

    def __init__(self, url):
        self.url = url
        pool = redis.ConnectionPool.from_url(
            url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT)
        self._redis = redis.Redis(connection_pool=pool)
        self._lock = threading.Lock()
        self._down_since = None
        self._retry_at = 0.0
        self._lost = {}  # key -> 'delete' or 'incr' that failed in an outage
        self._near = {}  # key -> (value, expires): copies valid while listening
        self._drops = {}  # key -> invalidations seen, so a racing read is not kept
        self._listener = None  # (pubsub, thread) while subscribed

    def get(self, key):
        return self.get_many([key])[0]

    def get_many(self, keys):
        now = time.monotonic()
        if self._listener is not None:
            near = [self._near.get(key) for key in keys]
            if all(entry is not None and entry[1] > now for entry in near):
                return [entry[0] for entry in near]
        self._listen()
        drops = [self._drops.get(key, 0) for key in keys]
        raw = self._call(lambda r: r.mget([KEY_PREFIX + k for k in keys]))
        if raw is None:
            return [None] * len(keys)
        values = [json.loads(item) if item is not None else None for item in raw]
        if self._listener is not None:
            with self._lock:
                for key, value, seen in zip(keys, values, drops):
                    if value is not None and self._drops.get(key, 0) == seen:
                        self._near[key] = (value, now + NEAR_SECONDS)
        return values

    def set(self, key, value, ttl=None):
        data = json.dumps(value, default=str)
        self._drop_near(key)
        self._call(lambda r: r.set(KEY_PREFIX + key, data, ex=int(ttl) if ttl else None))

    def delete(self, key):
        self._drop_near(key)
        if self._call(lambda r: r.pipeline(transaction=False)
                      .delete(KEY_PREFIX + key).publish(CHANNEL, key).execute()) is None:
            self._remember_lost(key, 'delete')

    def incr(self, key):
        self._drop_near(key)
        result = self._call(lambda r: r.pipeline(transaction=False)
                            .incr(KEY_PREFIX + key).publish(CHANNEL, key).execute())
        if result is None:
            self._remember_lost(key, 'incr')
            return None
        return result[0]

    # ---- the near copies ----

    def _drop_near(self, key):
        with self._lock:
            self._near.pop(key, None)
            self._drops[key] = self._drops.get(key, 0) + 1

    def _on_message(self, message):
        data = message.get('data')
        self._drop_near(data.decode() if isinstance(data, bytes) else str(data))

    def _listen(self):
        """Subscribe to invalidations, unless subscribed or Redis is down."""
        if self._listener is not None or self._down_since is not None:
            return
        with self._lock:
            if self._listener is not None:
                return
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(**{CHANNEL: self._on_message})
                thread = pubsub.run_in_thread(sleep_time=0.5, daemon=True,
                                              exception_handler=self._listener_failed)
            except REDIS_ERRORS:
                return  # the read that follows records the outage
            self._near.clear()
            self._listener = (pubsub, thread)

    def _listener_failed(self, exc, pubsub, thread):
        # Copies are trusted only while invalidations can arrive: forget them.
        with self._lock:
            self._listener = None
            self._near.clear()
        thread.stop()
        try:
            pubsub.close()
        except REDIS_ERRORS:
            pass

    def _remember_lost(self, key, operation):
        with self._lock:
            self._lost[key] = operation

    def _call(self, operation):
        """operation(redis) or None when Redis is unavailable."""
        if self._down_since is not None and time.monotonic() < self._retry_at:
            return None
        try:
            self._replay_lost()
            result = operation(self._redis)
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return None
        if self._down_since is not None:
            self._recovered()
        return result

    def _replay_lost(self):
        with self._lock:
            lost, self._lost = self._lost, {}
        if not lost:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, operation in lost.items():
                getattr(pipe, operation)(KEY_PREFIX + key)
                pipe.publish(CHANNEL, key)
            pipe.execute()
        except REDIS_ERRORS:
            with self._lock:
                self._lost = {**lost, **self._lost}
            raise

    def _failed(self, exc):
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
            self._retry_at = time.monotonic() + RETRY_AFTER
        if first:
            log.warning('cache unavailable (%s: %s); reading from the database until it is back',
                        type(exc).__name__, exc)

    def _recovered(self):
        with self._lock:
            down_since, self._down_since = self._down_since, None
        if down_since is not None:
            log.info('cache reachable again after %.0f s', time.monotonic() - down_since)


_lock = threading.Lock()
_cache = None


def current():
    """The cache for this process's settings (built on first use)."""
    global _cache
    try:
        url = runtime.settings().redis_url
    except RuntimeError:  # a script that never booted: nothing to share with
        url = None
    cache = _cache
    if cache is None or getattr(cache, 'url', None) != url:
        with _lock:
            if _cache is None or getattr(_cache, 'url', None) != url:
                _cache = RedisCache(url) if url else MemoryCache()
            cache = _cache
    return cache


def get(key):
    return current().get(key)


def get_many(keys):
    return current().get_many(keys)


def set(key, value, ttl=None):  # noqa: A001  (the cache's own vocabulary)
    current().set(key, value, ttl)


def delete(key):
    current().delete(key)


def incr(key):
    return current().incr(key)
