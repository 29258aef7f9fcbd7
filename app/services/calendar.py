"""The clinic calendar (SPEC §8): each doctor's weekly hours and visit
length, time off and clinic closures, and the slots they leave free. The
arithmetic is app.slots; this module reads and writes what it works on."""
import datetime

from app import slots, validate
from app.db import database
from app.errors import ApiError, bad_request, conflict, not_found
from app.models import Appointment, TimeOff, User, WorkingHours

MAX_RANGES = 7 * 6
MAX_SLOT_RANGE_DAYS = 31
MAX_TIME_OFF_DAYS = 366
# Far enough ahead for any plan; a year like 9999 is a typo, and the date
# arithmetic around it would overflow.
TIME_OFF_AHEAD_DAYS = 10 * 366
STAFF = ('reception', 'admin')


def _time(text):
    return datetime.time.fromisoformat(text)


def hours_of(doctor):
    ranges = (WorkingHours.select()
              .where(WorkingHours.doctor == doctor.id)
              .order_by(WorkingHours.weekday, WorkingHours.start))
    return {'slot_minutes': doctor.slot_minutes,
            'hours': [{'weekday': r.weekday, 'start': r.start, 'end': r.end} for r in ranges]}


def parse_hours(data, current_slot_minutes):
    """(slot_minutes, [(weekday, start, end)]) from a PUT body, or 400."""
    slot_minutes = validate.integer(data, 'slot_minutes', required=False, low=5, high=240)
    ranges = data.get('hours')
    if not isinstance(ranges, list):
        raise bad_request('hours', 'expected a list of {"weekday", "start", "end"}')
    if len(ranges) > MAX_RANGES:
        raise bad_request('hours', f'at most {MAX_RANGES} ranges')
    parsed = []
    for index, item in enumerate(ranges):
        field = f'hours[{index}]'
        if not isinstance(item, dict):
            raise bad_request(field, 'expected {"weekday", "start", "end"}')
        weekday, start, end = _hours_range(item, field)
        if end <= start:
            raise bad_request(field, f'ends at {end}, not after its start {start}')
        parsed.append((weekday, start, end))
    parsed.sort()
    for before, after in zip(parsed, parsed[1:]):
        if before[0] == after[0] and after[1] < before[2]:
            raise bad_request('hours', f'{before[1]}-{before[2]} and {after[1]}-{after[2]} '
                                       f'overlap on weekday {before[0]}')
    return slot_minutes or current_slot_minutes, parsed


def _hours_range(item, field):
    """(weekday, start, end) of one range; a refusal names the range."""
    try:
        return (validate.integer(item, 'weekday', low=0, high=6),
                validate.time(item, 'start'), validate.time(item, 'end'))
    except ApiError as exc:
        raise bad_request(field, exc.message)


def may_edit_hours(user, doctor):
    if user.role == 'admin' or (user.role == 'doctor' and user.id == doctor.id):
        return
    if user.role == 'doctor':
        raise not_found('doctor not found')
    raise ApiError(403, 'only an admin or the doctor can change working hours')


def set_hours(user, doctor, data):
    may_edit_hours(user, doctor)
    slot_minutes, ranges = parse_hours(data, doctor.slot_minutes)
    with database.atomic():
        WorkingHours.delete().where(WorkingHours.doctor == doctor.id).execute()
        if ranges:
            WorkingHours.insert_many([{'doctor': doctor.id, 'weekday': w, 'start': s, 'end': e}
                                      for w, s, e in ranges]).execute()
        User.update(slot_minutes=slot_minutes).where(User.id == doctor.id).execute()
    doctor.slot_minutes = slot_minutes
    return hours_of(doctor)


def calendar_for(tz, doctor, first_day, last_day, patient_id=None, exclude_id=None):
    """What app.slots needs for `doctor` from `first_day` to `last_day`:
    hours, the doctor's and the clinic's time off, and the booked visits of
    the doctor and (when given) the patient, leaving out `exclude_id` (the
    appointment being moved)."""
    hours = {}
    for r in WorkingHours.select().where(WorkingHours.doctor == doctor.id):
        hours.setdefault(r.weekday, []).append((_time(r.start), _time(r.end)))
    for ranges in hours.values():
        ranges.sort()
    time_off = tuple(slots.TimeOff(e.start_date, e.end_date,
                                   e.start_time and _time(e.start_time),
                                   e.end_time and _time(e.end_time))
                     for e in _time_off_between(first_day, last_day, doctor.id))
    booked = _booked_between(first_day, last_day, Appointment.doctor == doctor.id, exclude_id)
    if patient_id:
        # A UNION of two reads on the (person, date, time) indexes: SQLite
        # answers one OR across the two columns with the single-column
        # indexes, reading the doctor's whole history.
        booked = booked | _booked_between(first_day, last_day,
                                          Appointment.patient == patient_id, exclude_id)
    busy = tuple((row.date, _time(row.time), row.minutes) for row in booked.namedtuples())
    return slots.Calendar(tz, hours, doctor.slot_minutes, time_off, busy)


def _booked_between(first_day, last_day, person, exclude_id=None):
    """The booked visits of `person` (a condition on doctor or patient) that
    can reach into `first_day`..`last_day`, leaving out `exclude_id`."""
    query = (Appointment.select(Appointment.date, Appointment.time, Appointment.minutes)
             .where(person,
                    Appointment.status == 'booked',
                    Appointment.date.between(first_day - datetime.timedelta(days=1),
                                             last_day + datetime.timedelta(days=1))))
    if exclude_id:
        query = query.where(Appointment.id != exclude_id)
    return query


def _time_off_between(first_day, last_day, doctor_id):
    return (TimeOff.select()
            .where(TimeOff.start_date <= last_day,
                   TimeOff.end_date >= first_day,
                   TimeOff.doctor.is_null() | (TimeOff.doctor == doctor_id)))


def rules(settings, clock, override=False):
    return slots.Rules(now=clock.now(), notice_minutes=settings.booking_notice_minutes,
                       horizon_days=settings.booking_horizon_days, override=override)


def bookable_days(settings, clock):
    """The first and last day a visit may start on (the horizon). Days
    outside it are answered before any date arithmetic around them, which
    would overflow at the ends of the calendar (0001-01-01, 9999-12-31)."""
    today = clock.today()
    return today, today + datetime.timedelta(days=settings.booking_horizon_days)


def free_slots(settings, clock, doctor, first_day, last_day, patient_id=None, exclude_id=None,
               minutes=None):
    today, horizon = bookable_days(settings, clock)
    first_day, last_day = max(first_day, today), min(last_day, horizon)
    if first_day > last_day or not doctor.active:
        return []  # a doctor who left is booked by nobody, staff included (SPEC §8)
    calendar = calendar_for(settings.tz, doctor, first_day, last_day, patient_id, exclude_id)
    return slots.free_slots(calendar, rules(settings, clock), first_day, last_day, minutes)


def slot_range(data, clock):
    """The `from`..`to` of a slots request: at most 31 days."""
    first = validate.date(data, 'from', required=False) or clock.today()
    last = (validate.date(data, 'to', required=False)
            or min(first, datetime.date.max - datetime.timedelta(days=6))
            + datetime.timedelta(days=6))
    if last < first:
        raise bad_request('to', 'is before from')
    if (last - first).days >= MAX_SLOT_RANGE_DAYS:
        raise bad_request('to', f'the range is at most {MAX_SLOT_RANGE_DAYS} days')
    return first, last


def slots_json(found):
    return {'items': [{'date': s.date.isoformat(), 'time': f'{s.time:%H:%M}',
                       'minutes': s.minutes} for s in found]}


def refusal(reason, settings, doctor, taken_by_patient=False):
    """The 409 (400 for the past) a booking at a refused start answers."""
    if reason == slots.IN_PAST:
        return bad_request('date', 'is in the past; pick a future date and time')
    if reason == slots.TAKEN:
        if taken_by_patient:
            return conflict('time: you already have an appointment at this date and time',
                            field='time')
        return conflict('time: the doctor already has an appointment at this date and time',
                        field='time')
    messages = {
        slots.TOO_SOON: f'time: too soon; book at least {settings.booking_notice_minutes} '
                        'minutes ahead',
        slots.TOO_FAR: f'date: too far ahead; bookings open {settings.booking_horizon_days} '
                       'days ahead',
        slots.OUTSIDE_HOURS: 'time: outside the doctor\'s working hours',
        slots.OFF_GRID: f'time: not a start time; visits with {doctor.name} start every '
                        f'{doctor.slot_minutes} minutes from the start of their hours',
        slots.TIME_OFF: 'time: the doctor is away then (time off or a clinic closure)',
    }
    return conflict(messages[reason], field='date' if reason == slots.TOO_FAR else 'time')


def check_start(settings, clock, doctor, patient_id, day, wall, minutes, override=False,
                exclude_id=None):
    """Raise the refusal when a visit may not start at `day` `wall`."""
    today, horizon = bookable_days(settings, clock)
    if day < today:
        raise refusal(slots.IN_PAST, settings, doctor)
    if day > horizon:
        raise refusal(slots.TOO_FAR, settings, doctor)
    calendar = calendar_for(settings.tz, doctor, day, day, patient_id, exclude_id)
    reason = slots.why_not(calendar, rules(settings, clock, override), day, _time(wall),
                           minutes)
    if reason is None:
        return
    taken_by_patient = False
    if reason == slots.TAKEN:
        own = calendar_for(settings.tz, doctor, day, day, None, exclude_id)
        taken_by_patient = slots.why_not(own, rules(settings, clock, True), day, _time(wall),
                                         minutes) is None
    raise refusal(reason, settings, doctor, taken_by_patient)


def time_off_json(entry):
    return {'id': entry.id, 'doctor_id': entry.doctor_id,
            'start_date': entry.start_date.isoformat(), 'end_date': entry.end_date.isoformat(),
            'start_time': entry.start_time, 'end_time': entry.end_time, 'reason': entry.reason}


def time_off_visible_to(user):
    query = TimeOff.select().order_by(TimeOff.start_date, TimeOff.id)
    if user.role == 'doctor':
        query = query.where(TimeOff.doctor.is_null() | (TimeOff.doctor == user.id))
    elif user.role not in STAFF:
        raise ApiError(403, 'only staff and doctors see time off')
    return query


def _time_off_doctor(user, data):
    """Whose time off a request adds: None for the whole clinic (staff
    only); a doctor adds their own."""
    if user.role not in STAFF + ('doctor',):
        raise ApiError(403, 'only staff and doctors add time off')
    clinic_wide = 'doctor_id' in data and data['doctor_id'] is None
    doctor_id = validate.identifier(data, 'doctor_id', required=False)
    if user.role == 'doctor':
        if clinic_wide or doctor_id not in (None, user.id):
            raise ApiError(403, 'a doctor adds time off for themself only')
        return user.id
    if doctor_id is not None and not (User.select()
                                      .where(User.id == doctor_id, User.role == 'doctor',
                                             User.active == True)  # noqa: E712
                                      .exists()):
        raise bad_request('doctor_id', 'no such doctor taking bookings')
    return doctor_id


def parse_time_off(user, data, today=None):
    """The entry's fields, or 400. With `today`, its days must be today or
    later and at most TIME_OFF_AHEAD_DAYS ahead."""
    doctor_id = _time_off_doctor(user, data)
    start_date = validate.date(data, 'start_date')
    end_date = validate.date(data, 'end_date', required=False) or start_date
    if end_date < start_date:
        raise bad_request('end_date', 'is before start_date')
    if today is not None and end_date < today:
        raise bad_request('end_date' if data.get('end_date') else 'start_date',
                          'is in the past; time off is for today or later')
    if today is not None and (start_date - today).days > TIME_OFF_AHEAD_DAYS:
        raise bad_request('start_date', f'is more than {TIME_OFF_AHEAD_DAYS // 366} years ahead')
    if (end_date - start_date).days >= MAX_TIME_OFF_DAYS:
        raise bad_request('end_date', f'time off covers at most {MAX_TIME_OFF_DAYS} days')
    start_time = validate.time(data, 'start_time', required=False)
    end_time = validate.time(data, 'end_time', required=False)
    if (start_time is None) != (end_time is None):
        raise bad_request('end_time' if start_time else 'start_time',
                          'give both start_time and end_time, or neither for whole days')
    if start_time is not None and end_time <= start_time:
        raise bad_request('end_time', 'is not after start_time')
    reason = validate.text(data, 'reason', required=False, max_len=200)
    return {'doctor': doctor_id, 'start_date': start_date, 'end_date': end_date,
            'start_time': start_time, 'end_time': end_time, 'reason': reason}


def add_time_off(user, data, today=None):
    return create_time_off(user, parse_time_off(user, data, today))


def create_time_off(user, fields):
    return TimeOff.create(created_by=user.id, **fields)


def same_time_off(fields):
    """An entry with exactly these parsed fields (a form sent twice), or None."""
    return (TimeOff.select()
            .where(*[getattr(TimeOff, name) == value for name, value in fields.items()])
            .first())


def get_time_off(user, entry_id):
    entry = time_off_visible_to(user).where(TimeOff.id == entry_id).first()
    # A clinic closure is listed to every doctor, but it is staff's record.
    if entry is None or (user.role == 'doctor' and entry.doctor_id != user.id):
        raise not_found('time off not found')
    return entry


def affected_by(tz, entry):
    """The booked appointments that `entry` overlaps, in time order: the
    list reception works through to move them (nothing is cancelled). A
    late visit the evening before can run into the first day."""
    first = entry.start_date
    # The calendar's first day has no evening before (and date.min - 1 day raises).
    evening_before = first - datetime.timedelta(days=1) if first > datetime.date.min else first
    query = (Appointment.select()
             .where(Appointment.status == 'booked',
                    Appointment.date.between(evening_before, entry.end_date))
             .order_by(Appointment.date, Appointment.time, Appointment.id))
    if entry.doctor_id is not None:
        query = query.where(Appointment.doctor == entry.doctor_id)
    window = slots.Calendar(tz, {}, time_off=(slots.TimeOff(
        entry.start_date, entry.end_date, entry.start_time and _time(entry.start_time),
        entry.end_time and _time(entry.end_time)),))
    return [appt for appt in query
            if slots.blocked_by_time_off(window, appt.date, _time(appt.time), appt.minutes)]
