"""The clinic's clock. Everything that asks "what time is it" takes a Clock,
so tests pass a fixed one instead of patching the standard library."""
import datetime

UTC = datetime.timezone.utc


def naive_utc(aware):
    """An aware datetime as the naive UTC the database stores."""
    return aware.astimezone(UTC).replace(tzinfo=None)


def utc_iso(stored):
    """A stored naive-UTC datetime as ISO 8601 with its +00:00, or None."""
    return stored.replace(tzinfo=UTC).isoformat(timespec='seconds') if stored else None


class Clock:
    def __init__(self, tz, fixed=None):
        self.tz = tz
        self._fixed = fixed.astimezone(tz) if fixed is not None else None

    def now(self):
        """Aware datetime in the clinic's zone."""
        if self._fixed is not None:
            return self._fixed
        return datetime.datetime.now(self.tz)

    def today(self):
        return self.now().date()

    def utcnow(self):
        """Naive UTC, the form the database stores: read without the
        clinic's zone, as every request's session check does (SPEC P4)."""
        if self._fixed is not None:
            return naive_utc(self._fixed)
        return datetime.datetime.now(UTC).replace(tzinfo=None)

    def localize(self, stored):
        """A stored naive-UTC datetime as an aware clinic-time datetime."""
        if stored is None:
            return None
        return stored.replace(tzinfo=UTC).astimezone(self.tz)

    def iso(self, stored):
        value = self.localize(stored)
        return value.isoformat(timespec='seconds') if value else None


def fixed_clock(tz, when):
    """A clock stopped at `when` (aware, or naive meaning clinic time)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return Clock(tz, fixed=when)
