"""Cached figures: in Redis when REDIS_URL is set, else in this process.

One rule decides what may be served. Every cached value belongs to a family
(e.g. 'admin-stats') that has a generation number, and a value is served
only while it was stored under its family's current generation:

    generation, value = cache.get(family)   # value None: compute it, then
    cache.put(family, generation, value, ttl)
    cache.bump(family)                      # after a write that changes it

A bump makes every stored copy stale at once. A reader that started before
the write stores its value under the generation it read, so it cannot bring
the old figures back either.

With Redis, values and generations live there, shared by every process. Each
process also keeps what it read for up to NEAR_SECONDS (its near copy), so a
hot family costs no round trip. A bump publishes the family's new generation
on CHANNEL, and each process drops a near copy older than that; near copies
are used only while that subscription is up, so a bump made elsewhere
reaches this process a moment later, never not at all. Without Redis there
is one copy per process; run.py runs one web process per install, and
scaling out to several needs REDIS_URL.

The cache is never a reason to fail a request: with Redis down a read is a
miss (the caller computes the value) and a put does nothing. A bump that
cannot reach Redis is made when Redis answers again, so a copy stored before
the outage does not outlive it.
"""
import json
import logging
import threading
import time

from app import runtime
from app.redis_errors import unreachable
from app.single_flight import SingleFlight

log = logging.getLogger('clinicdesk.cache')

KEY_PREFIX = 'clinicdesk:cache:'
CHANNEL = KEY_PREFIX + 'bumped'
# Far below a request's patience: a cache that does not answer at once is
# skipped, the database answers instead.
SOCKET_TIMEOUT = 0.5
# After a failure, requests skip Redis for this long instead of each paying
# a connect timeout (which matters when packets vanish rather than bounce).
RETRY_AFTER = 1.0
# The longest a near copy is served without asking Redis: the bound on
# staleness should a published bump never arrive (a half-open connection).
NEAR_SECONDS = 1.0
# A near copy this old is read again by one request while the others keep
# serving it, so a process's threads do not all wait on Redis at once.
NEAR_REFRESH_SECONDS = 0.75

# INCR and PUBLISH in one atomic step, so the message carries the generation.
BUMP_SCRIPT = """
local generation = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. generation)
return generation
"""


class MemoryCache:
    """This process's families. `clock` returns seconds (monotonic)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._generations = {}  # family -> generation
        self._values = {}  # family -> (generation, value, expires)
        self._lock = threading.Lock()

    def get(self, family):
        """(generation, value): value is None unless it is current."""
        with self._lock:
            generation = self._generations.get(family, 0)
            stored = self._values.get(family)
        if stored is None or stored[0] != generation or stored[2] <= self._clock():
            return generation, None
        return generation, stored[1]

    def put(self, family, generation, value, ttl):
        with self._lock:
            self._values[family] = (generation, value, self._clock() + ttl)

    def bump(self, family):
        with self._lock:
            generation = self._generations.get(family, 0) + 1
            self._generations[family] = generation
            self._values.pop(family, None)  # stale now: free it
            return generation


class RedisCache:
    """A family is two keys under KEY_PREFIX: `<family>` holds the JSON
    {"generation", "value"} and expires, `<family>:generation` counts bumps."""

    def __init__(self, url):
        import redis  # loaded only where Redis is used
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        self.url = url
        self._redis = redis.Redis(connection_pool=redis.ConnectionPool.from_url(
            url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT))
        # The subscription must fail loudly: a silent reconnect could have
        # missed bumps while near copies were still being served.
        self._listening_redis = redis.Redis(connection_pool=redis.ConnectionPool.from_url(
            url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 0)))
        self._bump_script = self._redis.register_script(BUMP_SCRIPT)
        self._lock = threading.Lock()
        self._down_since = None
        self._retry_at = 0.0
        self._lost_bumps = set()
        self._listener = None  # (pubsub, thread) while subscribed
        self._near = {}  # family -> (generation, value, served until)
        self._refreshing = SingleFlight()  # families one request is reading again
        self._announced = {}  # family -> highest generation published since subscribing

    def get(self, family):
        """(generation, value): value is None unless it is current;
        (None, None) while Redis is unavailable."""
        now = time.monotonic()
        near = self._near.get(family)
        if self._listener is not None and near is not None and near[2] > now:
            if near[2] - now > NEAR_SECONDS - NEAR_REFRESH_SECONDS:
                return near[0], near[1]
            with self._refreshing.claim(family) as mine:
                if not mine:
                    return near[0], near[1]  # another request is reading it again
                return self._read(family, now)
        return self._read(family, now)

    def _read(self, family, now):
        listener = self._listen()
        raw = self._call(lambda r: r.mget([KEY_PREFIX + family,
                                           KEY_PREFIX + family + ':generation']))
        if raw is None:
            return None, None
        generation = int(raw[1] or 0)
        stored = json.loads(raw[0]) if raw[0] is not None else {}
        value = stored.get('value') if stored.get('generation') == generation else None
        if value is not None:
            self._keep_near(listener, family, generation, value, now)
        return generation, value

    def put(self, family, generation, value, ttl):
        if generation is None:
            return
        data = json.dumps({'generation': generation, 'value': value}, default=str)
        self._call(lambda r: r.set(KEY_PREFIX + family, data, ex=max(1, int(ttl))))

    def bump(self, family):
        """The family's new generation, or None if Redis is unavailable (the
        bump is then made when it answers again)."""
        generation = self._call(lambda r: self._bump_on(r, family))
        if generation is None:
            with self._lock:
                self._lost_bumps.add(family)
        return generation

    def _bump_on(self, client, family):
        generation = self._bump_script(keys=[KEY_PREFIX + family + ':generation'],
                                       args=[CHANNEL, family], client=client)
        self._announce(family, generation)
        return generation

    def _keep_near(self, listener, family, generation, value, now):
        with self._lock:
            # A bump published while this value was on its way makes it stale,
            # and a new subscription may have missed bumps made before it.
            if (listener is not None and listener is self._listener
                    and generation >= self._announced.get(family, 0)):
                self._near[family] = (generation, value, now + NEAR_SECONDS)

    def _announce(self, family, generation):
        with self._lock:
            self._announced[family] = max(generation, self._announced.get(family, 0))
            near = self._near.get(family)
            if near is not None and near[0] < generation:
                del self._near[family]

    def _on_message(self, message):
        data = message.get('data')
        text = data.decode() if isinstance(data, bytes) else str(data)
        family, _, generation = text.rpartition(' ')
        if generation.isascii() and generation.isdigit():  # int() fails on "²"
            self._announce(family, int(generation))

    def _listen(self):
        """The live subscription to bumps (started if need be), or None."""
        if self._listener is not None or self._down_since is not None:
            return self._listener
        with self._lock:
            if self._listener is None:
                try:
                    pubsub = self._listening_redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(**{CHANNEL: self._on_message})
                    thread = pubsub.run_in_thread(sleep_time=0.5, daemon=True,
                                                  exception_handler=self._listener_failed)
                except unreachable():
                    return None  # the read that follows records the outage
                self._near.clear()
                self._announced.clear()
                self._listener = (pubsub, thread)
            return self._listener

    def _listener_failed(self, exc, pubsub, thread):
        # Near copies are trusted only while bumps can arrive: forget them.
        with self._lock:
            self._listener = None
            self._near.clear()
        thread.stop()
        try:
            pubsub.close()
        except unreachable():
            pass

    def _call(self, operation):
        """operation(redis), or None when Redis is unavailable."""
        if self._down_since is not None and time.monotonic() < self._retry_at:
            return None
        try:
            self._replay_lost_bumps()
            result = operation(self._redis)
        except unreachable() as exc:
            self._failed(exc)
            return None
        if self._down_since is not None:
            self._recovered()
        return result

    def _replay_lost_bumps(self):
        if not self._lost_bumps:
            return
        with self._lock:
            lost, self._lost_bumps = self._lost_bumps, set()
        made = set()
        try:
            for family in lost:
                self._bump_on(self._redis, family)
                made.add(family)
        except unreachable():
            with self._lock:
                self._lost_bumps |= lost - made
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


def get(family):
    return current().get(family)


def put(family, generation, value, ttl):
    current().put(family, generation, value, ttl)


def bump(family):
    return current().bump(family)
