"""Bookable slots (SPEC §8): pure functions of a doctor's weekly hours, time
off, the visits already booked, the time now and the clinic's zone. No
database, no clock: the booking service reads those and passes them in.

Walls and instants. Hours, time off and appointments are written in clinic
wall-clock time; whether two visits overlap is decided on real instants. On
the day clocks spring forward a wall time in the gap does not exist, so no
slot starts there; on the day they fall back a wall time that occurs twice
is offered once, at its first occurrence.
"""
import bisect
import dataclasses
import datetime

from app.recurrence import local_instant

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
MIDNIGHT = datetime.time(0, 0)

TOO_SOON = 'too soon'
TOO_FAR = 'too far'
IN_PAST = 'in the past'
OUTSIDE_HOURS = 'outside hours'
OFF_GRID = 'not a start time'
TIME_OFF = 'time off'
TAKEN = 'taken'


@dataclasses.dataclass(frozen=True)
class TimeOff:
    """Whole days from `start_date` to `end_date` (inclusive), or only
    `start_time`..`end_time` on each of those days."""
    start_date: datetime.date
    end_date: datetime.date
    start_time: datetime.time | None = None
    end_time: datetime.time | None = None


@dataclasses.dataclass(frozen=True)
class Slot:
    date: datetime.date
    time: datetime.time
    minutes: int


@dataclasses.dataclass(frozen=True)
class Calendar:
    """What decides one doctor's slots. `hours` maps a weekday (0 = Monday)
    to its (start, end) wall-time ranges; `busy` holds (date, time, minutes)
    of the booked visits to keep clear of: the doctor's and, when a patient
    books, the patient's own."""
    tz: datetime.tzinfo
    hours: dict
    slot_minutes: int = 30
    time_off: tuple = ()
    busy: tuple = ()


@dataclasses.dataclass(frozen=True)
class Rules:
    """How far ahead a slot must and may be. Staff booking with an override
    skip hours, grid, time off and notice, never a clash, the past or the
    horizon."""
    now: datetime.datetime
    notice_minutes: int = 60
    horizon_days: int = 90
    override: bool = False


def exists(day, wall, tz):
    """False for a wall time skipped by a spring-forward change."""
    naive = datetime.datetime.combine(day, wall)
    there = naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return there == naive


def instant(day, wall, tz):
    """The UTC instant of wall time `wall` on `day`: the first of two in a
    fall-back hour, the end of the gap for a time that a spring-forward
    change skipped."""
    return local_instant(day, wall, tz).astimezone(UTC)


def _minutes(wall):
    return wall.hour * 60 + wall.minute


def _wall(minutes):
    return datetime.time(minutes // 60, minutes % 60)


class _Busy:
    """Sorted instant intervals, with an overlap test in O(log n)."""

    def __init__(self, intervals):
        self.intervals = sorted(intervals)
        self.starts = [start for start, _ in self.intervals]
        self.longest = max((end - start for start, end in self.intervals),
                           default=datetime.timedelta(0))

    def overlaps(self, start, end):
        # Only intervals starting before `end` and after `start - longest`
        # can reach into [start, end).
        low = bisect.bisect_left(self.starts, start - self.longest)
        high = bisect.bisect_left(self.starts, end)
        return any(s < end and start < e for s, e in self.intervals[low:high])


def _visits(calendar):
    return _Busy((instant(day, wall, calendar.tz),
                  instant(day, wall, calendar.tz) + datetime.timedelta(minutes=minutes))
                 for day, wall, minutes in calendar.busy)


def _time_off(calendar, first_day, last_day):
    intervals = []
    for entry in calendar.time_off:
        day = max(entry.start_date, first_day - DAY)
        while day <= min(entry.end_date, last_day + DAY):
            if entry.start_time is None:
                intervals.append((instant(day, MIDNIGHT, calendar.tz),
                                  instant(day + DAY, MIDNIGHT, calendar.tz)))
            else:
                intervals.append((instant(day, entry.start_time, calendar.tz),
                                  instant(day, entry.end_time, calendar.tz)))
            day += DAY
    return _Busy(intervals)


def _ranges(calendar, day):
    """(start, end) instants of the working ranges of `day`."""
    return [(instant(day, start, calendar.tz), _range_end(day, end, calendar.tz))
            for start, end in calendar.hours.get(day.weekday(), ())]


def _range_end(day, end, tz):
    # An end at 00:00 means midnight at the end of the day.
    return instant(day + DAY, MIDNIGHT, tz) if end == MIDNIGHT else instant(day, end, tz)


def free_slots(calendar, rules, first_day, last_day, minutes=None):
    """The bookable starts from `first_day` to `last_day` (inclusive), in
    order: on the doctor's grid, the whole visit inside one working range,
    clear of time off and busy visits, within notice and horizon."""
    minutes = minutes or calendar.slot_minutes
    length = datetime.timedelta(minutes=minutes)
    earliest = rules.now.astimezone(UTC) + datetime.timedelta(minutes=rules.notice_minutes)
    last_day = min(last_day, rules.now.astimezone(calendar.tz).date()
                   + datetime.timedelta(days=rules.horizon_days))
    first_day = max(first_day, earliest.astimezone(calendar.tz).date())
    busy, off = _visits(calendar), _time_off(calendar, first_day, last_day)
    slots = []
    day = first_day
    while day <= last_day:
        for (start, end), (wall_start, _) in zip(_ranges(calendar, day),
                                                 calendar.hours.get(day.weekday(), ())):
            for wall in _grid(day, wall_start, calendar):
                at = instant(day, wall, calendar.tz)
                if at + length > end:
                    break
                if at < start:
                    continue
                if at < earliest or off.overlaps(at, at + length) or busy.overlaps(at, at + length):
                    continue
                slots.append(Slot(day, wall, minutes))
        day += DAY
    return slots


def _grid(day, wall_start, calendar):
    """The existing wall times from `wall_start` on, every slot_minutes,
    until midnight; each fall-back repeat only once."""
    step = calendar.slot_minutes
    for value in range(_minutes(wall_start), 24 * 60, step):
        wall = _wall(value)
        if exists(day, wall, calendar.tz):
            yield wall


def why_not(calendar, rules, day, wall, minutes=None):
    """None when a visit of `minutes` may start at `wall` on `day`, else the
    reason (one of the constants above), checked in the order a person
    booking would want to hear it."""
    minutes = minutes or calendar.slot_minutes
    tz = calendar.tz
    if not exists(day, wall, tz):
        return OFF_GRID
    at = instant(day, wall, tz)
    end = at + datetime.timedelta(minutes=minutes)
    now = rules.now.astimezone(UTC)
    if at <= now:
        return IN_PAST
    if day > rules.now.astimezone(tz).date() + datetime.timedelta(days=rules.horizon_days):
        return TOO_FAR
    if not rules.override:
        ranges = list(zip(_ranges(calendar, day), calendar.hours.get(day.weekday(), ())))
        inside = [(wall_start, (start, stop)) for (start, stop), (wall_start, _) in ranges
                  if start <= at and end <= stop]
        if not inside:
            return OUTSIDE_HOURS
        if all((_minutes(wall) - _minutes(wall_start)) % calendar.slot_minutes
               for wall_start, _ in inside):
            return OFF_GRID
        if blocked_by_time_off(calendar, day, wall, minutes):
            return TIME_OFF
        if at < now + datetime.timedelta(minutes=rules.notice_minutes):
            return TOO_SOON
    if _visits(calendar).overlaps(at, end):
        return TAKEN
    return None


def blocked_by_time_off(calendar, day, wall, minutes):
    """Whether a visit of `minutes` at `day` `wall` meets the time off."""
    at = instant(day, wall, calendar.tz)
    return _time_off(calendar, day, day).overlaps(at, at + datetime.timedelta(minutes=minutes))
