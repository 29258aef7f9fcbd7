"""Clinic-time recurrence: when something due daily, weekly on a weekday or
monthly on a day falls due, in the clinic's zone. The periodic jobs
(app.schedule) and the scheduled reports (app.services.reports) both count
their slots here.

Times are clinic wall time: a time skipped by a spring-forward change falls
due at the first instant after the gap, a time that occurs twice in the
autumn at the first of the two. A monthly day the month does not have (the
31st in April) means its last day.
"""
import calendar
import dataclasses
import datetime

from app.clock import UTC

DAY = datetime.timedelta(days=1)
FREQUENCIES = ('daily', 'weekly', 'monthly')


@dataclasses.dataclass(frozen=True)
class Recurrence:
    frequency: str            # one of FREQUENCIES
    time: datetime.time       # clinic wall time
    weekday: int | None = None  # weekly: 0 = Monday .. 6 = Sunday (date.weekday())
    day: int | None = None      # monthly: 1..31

    def _due_in_month(self, year, month):
        return datetime.date(year, month, min(self.day, calendar.monthrange(year, month)[1]))

    def first_due_day(self, day):
        """The first clinic date on or after `day` it is due."""
        if self.frequency == 'weekly':
            return day + DAY * ((self.weekday - day.weekday()) % 7)
        if self.frequency == 'monthly':
            due = self._due_in_month(day.year, day.month)
            if due >= day:
                return due
            following = day.replace(day=28) + DAY * 4
            return self._due_in_month(following.year, following.month)
        return day

    def last_due_day(self, day):
        """The last clinic date on or before `day` it is due."""
        if self.frequency == 'weekly':
            return day - DAY * ((day.weekday() - self.weekday) % 7)
        if self.frequency == 'monthly':
            due = self._due_in_month(day.year, day.month)
            if due <= day:
                return due
            previous = day.replace(day=1) - DAY
            return self._due_in_month(previous.year, previous.month)
        return day

    def next_due(self, now, tz):
        """(clinic date, aware instant) of the first due instant strictly after `now`."""
        day = self.first_due_day(now.astimezone(tz).date())
        while True:
            at = local_instant(day, self.time, tz)
            if at.astimezone(UTC) > now.astimezone(UTC):
                return day, at
            day = self.first_due_day(day + DAY)

    def latest_due(self, now, tz):
        """(clinic date, aware instant) of the last due instant at or before `now`."""
        day = self.last_due_day(now.astimezone(tz).date())
        while True:
            at = local_instant(day, self.time, tz)
            if at.astimezone(UTC) <= now.astimezone(UTC):
                return day, at
            day = self.last_due_day(day - DAY)


def next_run(rule, now, tz):
    """The first due instant strictly after `now` (aware, clinic time)."""
    return rule.next_due(now, tz)[1]


def latest_run(rule, now, tz):
    """The last due instant at or before `now` (aware, clinic time)."""
    return rule.latest_due(now, tz)[1]


def local_instant(day, wall, tz):
    """`day` at wall-clock `wall` in `tz`, aware. A time skipped by a
    spring-forward change gives the first instant after the gap; a time that
    occurs twice in an autumn change gives the first of the two."""
    naive = datetime.datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0)
    if _wall(first, tz) == naive:
        return first
    # In the gap the two folds straddle the transition; find its instant.
    low, high = sorted([first.astimezone(UTC), naive.replace(tzinfo=tz, fold=1).astimezone(UTC)])
    while high - low > datetime.timedelta(seconds=1):
        mid = low + (high - low) / 2
        if _wall(mid, tz) >= naive:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0).astimezone(tz)


def _wall(instant, tz):
    # Aware datetimes sharing one tzinfo compare by wall time, ignoring fold;
    # going through UTC gives the wall time the instant really shows.
    return instant.astimezone(UTC).astimezone(tz).replace(tzinfo=None, fold=0)
