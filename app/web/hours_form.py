"""The weekly-hours form: rows of from/to times per weekday, read from the
posted page and checked row by row, so each error shows next to its field;
"add a range" and "remove" are plain submit buttons, working without JS."""
import re

from app import validate
from app.errors import ApiError, bad_request
from app.web.forms import field_errors, form_value

WEEKDAYS = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday')
MAX_ROWS = 6  # per day: the API takes at most 7 × 6 ranges
BLANK = {'start': '', 'end': ''}
# The buttons' values: ASCII digits only (str.isdigit would take '٣').
ACTION_RE = re.compile(r'add-([0-6])|remove-([0-6])-([0-5])')


def week_from_hours(hours):
    """{weekday: [{'start', 'end'}]} from calendar.hours_of()['hours']."""
    week = {weekday: [] for weekday in range(7)}
    for item in hours:
        week[item['weekday']].append({'start': item['start'], 'end': item['end']})
    return week


def week_from_form():
    week = {}
    for weekday in range(7):
        rows = []
        for index in range(MAX_ROWS):
            start = form_value(f'start-{weekday}-{index}', None)
            end = form_value(f'end-{weekday}-{index}', None)
            if start is not None or end is not None:
                rows.append({'start': (start or '').strip(), 'end': (end or '').strip()})
        week[weekday] = rows
    return week


def edit(week, action):
    """Apply 'add-<day>' or 'remove-<day>-<row>' to `week`; the field to
    focus afterwards, or None for 'save'. Any other value is no button of
    this form: 400."""
    if action == 'save':
        return None
    match = ACTION_RE.fullmatch(action)
    if match is None:
        raise bad_request('action', 'is not a button of this form')
    adding = match.group(1) is not None
    weekday = int(match.group(1) if adding else match.group(2))
    rows = week[weekday]
    if adding:
        if not rows:
            rows.append(dict(BLANK))  # the blank row the page already showed
        if len(rows) < MAX_ROWS:
            rows.append(dict(BLANK))
        return f'start-{weekday}-{len(rows) - 1}'
    if int(match.group(3)) < len(rows):
        del rows[int(match.group(3))]
    return f'start-{weekday}-0'


def days(week):
    """What the page shows: each weekday with its rows, a blank one when
    the day has none (a day off)."""
    return [{'weekday': weekday, 'name': WEEKDAYS[weekday],
             'rows': week.get(weekday) or [dict(BLANK)],
             'can_add': len(week.get(weekday) or []) < MAX_ROWS}
            for weekday in range(7)]


def _day_ranges(weekday, rows, errors):
    """The filled rows of one day as sorted (start, end, row index)."""
    filled = []
    for index, row in enumerate(rows):
        if not row['start'] and not row['end']:
            continue
        try:
            start = validate.time(row, 'start')
            end = validate.time(row, 'end')
        except ApiError as exc:
            errors[f'{exc.field}-{weekday}-{index}'] = field_errors(exc)[exc.field]
            continue
        if end <= start:
            errors[f'end-{weekday}-{index}'] = f'must be after the start ({start})'
            continue
        filled.append((start, end, index))
    filled.sort()
    for (start, end, _), (later, _, index) in zip(filled, filled[1:]):
        if later < end:
            errors[f'start-{weekday}-{index}'] = (
                f'must not overlap {start}–{end}; leave a gap for a break or make it one range')
    return filled


def check(week, slot_minutes):
    """(PUT body, the row field of each range in it, {field: message})."""
    errors, ranges, fields = {}, [], []
    try:
        minutes = validate.integer({'slot_minutes': slot_minutes}, 'slot_minutes',
                                   low=5, high=240)
    except ApiError as exc:
        errors.update(field_errors(exc))
        minutes = None
    for weekday in range(7):
        for start, end, index in _day_ranges(weekday, week.get(weekday, []), errors):
            ranges.append({'weekday': weekday, 'start': start, 'end': end})
            fields.append(f'end-{weekday}-{index}')
    return {'slot_minutes': minutes, 'hours': ranges}, fields, errors


def placed(exc, fields):
    """The service's error put next to the row it names ('hours[3]')."""
    errors = field_errors(exc)
    field = exc.field or ''
    index = (validate.whole_number(field[6:-1])
             if field.startswith('hours[') and field.endswith(']') else None)
    if index is not None:
        if 0 <= index < len(fields):
            return {fields[index]: errors[field]}
    if field.startswith('hours'):
        return {'': exc.message}
    return errors


def summary(week):
    """'Mon 09:00–12:30, 14:00–17:00; Tue …' for the flash after saving."""
    parts = []
    for weekday in range(7):
        rows = [f"{r['start']}–{r['end']}" for r in week.get(weekday, []) if r['start']]
        if rows:
            parts.append(f'{WEEKDAYS[weekday][:3]} ' + ', '.join(rows))
    return '; '.join(parts) or 'no working hours (not bookable)'
