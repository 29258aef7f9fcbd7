"""One caller at a time reads a cached value again; the others keep using
the copy they have meanwhile (the session cache, Redis near copies). Without
it, every thread of a busy process would stop for the same read at once."""
import contextlib
import threading


class SingleFlight:
    def __init__(self):
        self._lock = threading.Lock()
        self._keys = set()

    @contextlib.contextmanager
    def claim(self, key):
        """Yields whether this caller is the one to read `key` again; its
        claim ends with the block."""
        with self._lock:
            mine = key not in self._keys
            self._keys.add(key)
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    self._keys.discard(key)
