"""Which demo visits happen when: how many on each day, and at which start
with which doctor, planned day by day so a million visits take a few
megabytes (one packed integer each) instead of a list of every free start.

Each day's count comes from its weight (weekday, how far ahead, a little
noise) and is never more than its free starts; within a day, busier doctors
get more of the starts (a keyed weighted sample, Efraimidis-Spirakis). A
doctor's visits never overlap, so only with fewer patients than doctors can
too many happen at once; then they are counted per GRAIN minutes and what a
day could not take moves on to the next day.
"""
import array
import collections
import datetime
import math

from app.services.demo_calendar import GRAIN

PAST_DAYS = 120
FUTURE_DAYS = 21
# Longest range we widen to when many appointments are asked of few doctors.
MAX_DAYS = 3660
# Share of the starts in the range that may be taken; the rest stays free, so
# demo patients can still book and the schedule looks like a real one.
MAX_FILL = 0.85
# Appointments guaranteed today and on the next two days whatever the seed,
# so the reminder job and the doctors' day views always have work.
MINIMUM_AHEAD = (4, 2, 2)
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.4, 0.15)  # Monday .. Sunday


class Schedule:
    """The chosen visits: `days`, and for each day its (start minute,
    doctor index) pairs in start order."""

    def __init__(self, days, doctors):
        self.days = days
        self._doctors = doctors
        self._packed = array.array('q')
        self._ends = array.array('q')

    def add_day(self, chosen):
        self._packed.extend(start * self._doctors + doctor for start, doctor in sorted(chosen))
        self._ends.append(len(self._packed))

    def __len__(self):
        return len(self._packed)

    def by_day(self):
        """(day, [(start, doctor), ...]) for every day with visits."""
        begin = 0
        for day, end in zip(self.days, self._ends):
            if end > begin:
                yield day, [divmod(packed, self._doctors) for packed in self._packed[begin:end]]
            begin = end


def day_count(weeks, patients, appointments):
    """How many clinic days to fill: ~4 months back to 3 weeks ahead,
    reaching further back when the requested appointments would not fit.
    None when they cannot fit in MAX_DAYS."""
    per_day = sum(week.weekly_starts() for week in weeks) / 7
    if patients < len(weeks):
        per_day *= patients / len(weeks)  # fewer patients than doctors: they are the limit
    count = max(PAST_DAYS + 1 + FUTURE_DAYS, math.ceil(appointments / (per_day * MAX_FILL)))
    return count if count <= MAX_DAYS else None


def days_ending_ahead(today, count):
    first = today + datetime.timedelta(days=FUTURE_DAYS - count + 1)
    return [first + datetime.timedelta(days=n) for n in range(count)]


def plan(rng, days, today, now_minute, weeks, closures, patients, appointments):
    """A Schedule of at most `appointments` visits on `days` (fewer only
    when they do not fit)."""
    busyness = [rng.uniform(0.5, 1.0) for _ in weeks]
    free = [_free_starts(day, weeks, closures) for day in days]
    weights = [_day_weight(rng, day, today) * sum(busyness[doctor] * len(starts)
                                                  for doctor, starts in enumerate(day_free))
               for day, day_free in zip(days, free)]
    capacity = [sum(len(starts) for starts in day_free) for day_free in free]
    total = min(appointments, sum(capacity))
    floor, guaranteed = [0] * len(days), 0
    if today in days:
        for offset, minimum in enumerate(MINIMUM_AHEAD):
            d = days.index(today) + offset
            if d < len(days):
                floor[d] = min(minimum, capacity[d], total - guaranteed)
                guaranteed += floor[d]
    counts = allocate(total, weights, capacity, floor)

    schedule, carried = Schedule(days, len(weeks)), 0
    limited = patients < len(weeks)
    for d, day in enumerate(days):
        wanted = min(capacity[d], counts[d] + carried)
        keyed = _keyed(rng, free[d], busyness)
        if day == today:
            _prefer_later(keyed, now_minute, MINIMUM_AHEAD[0])
        chosen = _take(keyed, wanted, weeks, patients if limited else None)
        carried += counts[d] - len(chosen)
        schedule.add_day(chosen)
    return schedule


def allocate(total, weights, capacity, floor):
    """Whole counts per day summing to `total`: `floor` first, the rest in
    proportion to `weights`, none above its `capacity`; fractions go by
    largest remainder so the total is exact."""
    counts = list(floor)
    room = [c - f for c, f in zip(capacity, floor)]
    left = total - sum(counts)
    open_days = {d for d, r in enumerate(room) if r > 0 and weights[d] > 0}
    while left > 0 and open_days:
        scale = left / sum(weights[d] for d in open_days)
        full = {d for d in open_days if weights[d] * scale >= room[d]}
        if full:  # those take all they can; share the rest again
            for d in full:
                counts[d] += room[d]
                left -= room[d]
                room[d] = 0
            open_days -= full
            continue
        shares = {d: weights[d] * scale for d in open_days}
        for d, share in shares.items():
            counts[d] += int(share)
            room[d] -= int(share)
            left -= int(share)
        # `left` is now the sum of the fractions (give or take rounding).
        by_remainder = sorted(open_days, key=lambda d: (int(shares[d]) - shares[d], d))
        for d in by_remainder[:left] if left > 0 else by_remainder[left:]:
            counts[d] += 1 if left > 0 else -1
        left = 0
    return counts


def _free_starts(day, weeks, closures):
    """Per doctor index, the starts on `day` that no time off blocks."""
    weekday, closed = day.weekday(), closures.by_day[day]
    return [[s for s in week.starts[weekday]
             if not (closed and closures.blocks(day, doctor, s, week.minutes))]
            for doctor, week in enumerate(weeks)]


def _day_weight(rng, day, today):
    weight = WEEKDAY_WEIGHTS[day.weekday()]
    ahead = (day - today).days
    if ahead > 0:
        # Bookings thin out further ahead: most are made a week or two before.
        weight *= 1.0 - 0.7 * ahead / (FUTURE_DAYS + 1)
    return weight * rng.uniform(0.8, 1.2)


def _keyed(rng, day_free, busyness):
    """The day's free starts as [key, start, doctor], highest key first."""
    random = rng.random
    keyed = [[random() ** (1.0 / busyness[doctor]), start, doctor]
             for doctor, starts in enumerate(day_free) for start in starts]
    keyed.sort(reverse=True)
    return keyed


def _prefer_later(keyed, now_minute, count):
    """Today's first picks are still ahead when they can be: reminder work."""
    later = [entry for entry in keyed if entry[1] > now_minute][:count]
    for entry in later:
        entry[0] += 1.0  # keys are < 1: these win
    keyed.sort(reverse=True)


def _take(keyed, wanted, weeks, patients):
    """Up to `wanted` (start, doctor) pairs in key order; with `patients`
    set, never more visits at once than that."""
    if patients is None:
        return [(start, doctor) for _, start, doctor in keyed[:wanted]]
    chosen, at_once = [], collections.Counter()
    for _, start, doctor in keyed:
        if len(chosen) == wanted:
            break
        grains = range(start // GRAIN, (start + weeks[doctor].minutes) // GRAIN)
        if any(at_once[g] >= patients for g in grains):
            continue
        at_once.update(grains)
        chosen.append((start, doctor))
    return chosen
