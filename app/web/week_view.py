"""The week of free times a patient books from and an appointment is moved
into (SPEC §8): seven days from a week start, each day's real free slots
(app.services.calendar) with the full name a screen reader reads out, and,
when a week has nothing free, the next week that has."""
import datetime
from urllib.parse import urlencode

from app import validate
from app.errors import ApiError
from app.services import accounts, calendar
from app.web.forms import field_errors

DAY = datetime.timedelta(days=1)
WEEK = 7 * DAY
# Looking ahead for the next free time costs at most this many month-long
# reads, never one read per week.
LOOKAHEAD_READS = 4


def horizon_end(settings, today):
    """The last day anyone may book (BOOKING_HORIZON_DAYS ahead)."""
    return today + DAY * settings.booking_horizon_days


def day_refusal(settings, today, day):
    """Why no visit can be picked on `day` (a date asked for in a link or
    the day field), or None."""
    if day < today:
        return 'is in the past; pick today or a later day'
    if day > horizon_end(settings, today):
        return (f'is too far ahead; bookings open {settings.booking_horizon_days} days ahead, '
                f'up to {spoken_day(horizon_end(settings, today))}')
    return None


def week_holding(today, day):
    """The start of the week holding `day`, weeks counted from today."""
    return today + WEEK * ((day - today).days // 7)


def start_of_week(today, last, week=None, day=None):
    """The first day shown: `week` when given, else the week holding `day`
    (else this week); never before today nor past the horizon."""
    if week is None:
        week = week_holding(today, day) if day and day >= today else today
    return min(max(week, today), week_holding(today, last))


def spoken_day(day):
    """'Tuesday 14 May 2026': the day as a slot's accessible name says it."""
    return f'{day:%A} {day.day} {day:%B %Y}'


def link(path, params, anchor=''):
    kept = {k: v for k, v in params.items() if v not in (None, '')}
    return path + ('?' + urlencode(kept) if kept else '') + anchor


def next_free(settings, clock, doctor, first, last, **who):
    """(the first free slot from `first`, the last day searched)."""
    searched = first - DAY
    for _ in range(LOOKAHEAD_READS):
        if first > last:
            break
        until = min(first + DAY * (calendar.MAX_SLOT_RANGE_DAYS - 1), last)
        found = calendar.free_slots(settings, clock, doctor, first, until, **who)
        if found:
            return found[0], until
        searched, first = until, until + DAY
    return None, searched


def build(settings, clock, doctor, start, path, params, chosen=(None, None), anchor='',
          **who):
    """The week from `start` for `doctor`. `params` are the query every link
    keeps (e.g. the doctor), `chosen` the (day, 'HH:MM') picked; `who` goes
    to calendar.free_slots (patient_id, exclude_id, minutes)."""
    today = clock.today()
    last = horizon_end(settings, today)
    end = start + WEEK - DAY
    found = calendar.free_slots(settings, clock, doctor, start, end, **who)

    def to(anchor_, **changes):
        return link(path, {**params, **changes}, anchor_)

    days = []
    for day in (start + DAY * i for i in range(7)):
        times = [f'{s.time:%H:%M}' for s in found if s.date == day]
        days.append({
            'date': day, 'spoken': spoken_day(day), 'free': len(times),
            'current': day == chosen[0],
            'href': to('#confirm', week=start, date=day) if day <= last else None,
            'slots': [{'time': t, 'chosen': day == chosen[0] and t == chosen[1],
                       'href': to('#confirm', week=start, date=day, time=t)} for t in times]})
    week = {'doctor': doctor, 'start': start, 'end': end, 'days': days, 'free': len(found),
            'prev': to(anchor, week=max(today, start - WEEK)) if start > today else None,
            'next': to(anchor, week=start + WEEK) if start + WEEK <= last else None,
            'next_free': None, 'searched_until': None}
    if not found:
        slot, week['searched_until'] = next_free(settings, clock, doctor, end + DAY, last, **who)
        if slot:
            week['next_free'] = {'spoken': f'{spoken_day(slot.date)}, {slot.time:%H:%M}',
                                 'start': week_holding(today, slot.date),
                                 'href': to(anchor, week=week_holding(today, slot.date),
                                            date=slot.date)}
    return week


def times_on(week, day):
    """The free 'HH:MM' times of `day` in `week` (none when outside it)."""
    return next(([s['time'] for s in d['slots']] for d in week['days'] if d['date'] == day), [])


def chosen_doctor(choice, errors):
    """The bookable doctor `choice` names, or None (a bad id is named in
    `errors`)."""
    try:
        doctor_id = validate.identifier(choice, 'doctor_id', required=False)
        return accounts.get_doctor(doctor_id, active_only=True) if doctor_id else None
    except ApiError as exc:
        errors.setdefault('doctor_id', field_errors(exc).popitem()[1])
        return None


def chosen_day(settings, today, choice, errors, weeks=None):
    """(day, week start) asked for in `choice` (the week from `weeks` when
    given, e.g. the query string); a bad value, or a day nobody may book,
    is named in `errors` and left out of the week shown."""
    day = week = None
    try:
        day = validate.date(choice, 'date', required=False)
        week = validate.date(choice if weeks is None else weeks, 'week', required=False)
    except ApiError as exc:
        errors.setdefault(exc.field or 'date', field_errors(exc).popitem()[1])
    refusal = day and day_refusal(settings, today, day)
    if refusal:
        errors.setdefault('date', refusal)
    return day, week


def for_choice(settings, clock, doctor, day, week, path, params, time, anchor, **who):
    """{'week', 'day', 'times'}: the week holding the chosen day (or the
    asked-for week), and that day's free times; a day outside the week
    shown is dropped."""
    today = clock.today()
    start = start_of_week(today, horizon_end(settings, today), week, day)
    if day and not start <= day < start + WEEK:
        day = None
    shown = build(settings, clock, doctor, start, path, params, (day, time), anchor, **who)
    return {'week': shown, 'day': day, 'times': times_on(shown, day)}
