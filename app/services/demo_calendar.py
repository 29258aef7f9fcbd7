"""The demo clinic's calendar: each demo doctor's week (full-timers,
part-timers, lunch breaks, visit lengths), a doctor on leave next week and
a clinic holiday, and the starts that leaves each doctor on a given day.

Wall times are minutes since midnight here; demo hours keep clear of the
small hours, so no start falls in a DST gap."""
import dataclasses
import datetime

from app.models import TimeOff, WorkingHours

DAY = datetime.timedelta(days=1)
# Every start and visit length is a multiple of this: the grain overlap is counted in.
GRAIN = 5

# (visit lengths to pick from, ((weekdays, ((start, end), ...)), ...)); 0 = Monday.
# Doctor N gets week N modulo this list, so even a small clinic has weekend hours.
WEEKS = (
    # Full time.
    ((30,), (((0, 1, 2, 3, 4), (('09:00', '17:00'),)),)),
    # Full time with a lunch break, short visits.
    ((15, 20), (((0, 1, 2, 3, 4), (('08:30', '12:30'), ('13:30', '17:00'))),)),
    # Part time: weekend mornings and two late afternoons.
    ((20, 30), (((5, 6), (('09:00', '13:00'),)), ((1, 3), (('14:00', '19:00'),)))),
    # Part time: three mornings.
    ((20, 30), (((0, 2, 4), (('08:00', '13:00'),)),)),
    # Part time: two long days with a lunch break.
    ((15, 30), (((1, 3), (('08:00', '12:00'), ('13:00', '18:00'))),)),
    # Tuesday to Saturday, lunch break on weekdays.
    ((20,), (((1, 2, 3, 4), (('09:00', '12:30'), ('13:30', '17:30'))),
             ((5,), (('09:00', '12:00'),)))),
)
LEAVE_REASON = 'Annual leave'
HOLIDAY_REASON = 'Clinic closed: staff training day'


def minutes_of(hhmm):
    hours, minutes = hhmm.split(':')
    return int(hours) * 60 + int(minutes)


def hhmm(minutes):
    return f'{minutes // 60:02d}:{minutes % 60:02d}'


@dataclasses.dataclass(frozen=True)
class Week:
    """One doctor's hours: `ranges[weekday]` are (start, end) minutes, and
    `starts[weekday]` the grid starts whose whole visit fits in a range."""
    minutes: int
    ranges: tuple
    starts: tuple

    @classmethod
    def build(cls, minutes, days):
        ranges = [() for _ in range(7)]
        for weekdays, day_ranges in days:
            for weekday in weekdays:
                ranges[weekday] = tuple((minutes_of(s), minutes_of(e)) for s, e in day_ranges)
        starts = tuple(tuple(start for low, high in day for start in range(low, high, minutes)
                             if start + minutes <= high)
                       for day in ranges)
        return cls(minutes, tuple(ranges), starts)

    def weekly_starts(self):
        return sum(len(day) for day in self.starts)

    def rows(self, doctor_id):
        return [{'doctor': doctor_id, 'weekday': weekday, 'start': hhmm(s), 'end': hhmm(e)}
                for weekday, day in enumerate(self.ranges) for s, e in day]


def weeks(rng, doctors):
    """A Week per doctor index, the visit length picked by `rng`."""
    chosen = []
    for n in range(doctors):
        lengths, days = WEEKS[n % len(WEEKS)]
        chosen.append(Week.build(rng.choice(lengths), days))
    return chosen


@dataclasses.dataclass(frozen=True)
class Off:
    """A time off entry: doctor index (None: the whole clinic), the days it
    covers and, for part of each day, its (start, end) minutes."""
    doctor: int | None
    first: datetime.date
    last: datetime.date
    reason: str
    span: tuple | None = None

    def blocks(self, day, doctor, start, minutes):
        if not self.first <= day <= self.last or self.doctor not in (None, doctor):
            return False
        return self.span is None or (start < self.span[1] and self.span[0] < start + minutes)

    def row(self, doctor_ids):
        return {'doctor': None if self.doctor is None else doctor_ids[self.doctor],
                'start_date': self.first, 'end_date': self.last, 'reason': self.reason,
                'start_time': self.span and hhmm(self.span[0]),
                'end_time': self.span and hhmm(self.span[1])}


def time_off(today, doctors):
    """A full-timer (the second doctor when there is one) on leave all of
    next week, and the clinic closed on the Wednesday of the week after."""
    next_monday = today + DAY * (7 - today.weekday())
    return (Off(1 % doctors, next_monday, next_monday + DAY * 6, LEAVE_REASON),
            Off(None, next_monday + DAY * 9, next_monday + DAY * 9, HOLIDAY_REASON))


class Closures:
    """Time off by day, for the quick "is this start free" of the generator."""

    def __init__(self, entries, days):
        self.entries = entries
        self.by_day = {day: [e for e in entries if e.first <= day <= e.last] for day in days}

    def blocks(self, day, doctor, start, minutes):
        return any(e.blocks(day, doctor, start, minutes) for e in self.by_day.get(day, ()))


def save(doctor_ids, chosen_weeks, entries):
    """Write the doctors' hours and the time off."""
    WorkingHours.insert_many([row for doctor_id, week in zip(doctor_ids, chosen_weeks)
                              for row in week.rows(doctor_id)]).execute()
    TimeOff.insert_many([entry.row(doctor_ids) for entry in entries]).execute()
