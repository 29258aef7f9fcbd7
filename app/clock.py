"""The clinic's clock. Everything that asks "what time is it" takes a Clock,
so tests pass a fixed one instead of patching the standard library."""
import datetime


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
        """Naive UTC, the form the database stores."""
        return self.now().astimezone(datetime.timezone.utc).replace(tzinfo=None)

    def localize(self, naive_utc):
        """A stored naive-UTC datetime as an aware clinic-time datetime."""
        if naive_utc is None:
            return None
        return naive_utc.replace(tzinfo=datetime.timezone.utc).astimezone(self.tz)

    def iso(self, naive_utc):
        value = self.localize(naive_utc)
        return value.isoformat(timespec='seconds') if value else None


def fixed_clock(tz, when):
    """A clock stopped at `when` (aware, or naive meaning clinic time)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return Clock(tz, fixed=when)
