"""Scheduled report definitions (SPEC §4): validation, the schedule math and
the period a run covers.

A report runs daily, weekly on a weekday (0 = Monday .. 6 = Sunday, the
numbering of Python's date.weekday()) or monthly on a day (1..31; a day the
month does not have means its last day). Its time is clinic wall time: a
time skipped by a spring-forward change runs at the first instant after the
gap, a time that occurs twice in the autumn runs at the first of the two.

A run covers the period that just ended before its due day: yesterday, the
last full calendar week (Monday to Sunday) or the last calendar month. The
schedule functions take an explicit `now`, so tests need no clock patching.
"""
import calendar
import dataclasses
import datetime

from peewee import fn

from app import validate
from app.errors import ApiError, bad_request, not_found
from app.models import ReportExecution, ScheduledReport, utcnow
from app.schedule import local_instant

KINDS = ('appointments', 'doctor_activity', 'treatments')
FREQUENCIES = ('daily', 'weekly', 'monthly')
FORMATS = ('csv', 'xlsx', 'pdf')
WEEKDAYS = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday')
KIND_LABELS = {'appointments': 'Appointments', 'doctor_activity': 'Doctor activity',
               'treatments': 'Treatment log'}
NAME_MAX = 120
SUBJECT_MAX = 200
BODY_MAX = 5000
MAX_RECIPIENTS = 50
UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)


# ---- the schedule ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Schedule:
    frequency: str
    time: datetime.time
    weekday: int | None = None
    day: int | None = None

    @classmethod
    def of(cls, report):
        hours, minutes = (int(part) for part in report.time.split(':'))
        return cls(report.frequency, datetime.time(hours, minutes), report.weekday, report.day)

    def describe(self, tz=None):
        at = f'{self.time:%H:%M}' + (f' {tz.key}' if tz else '')
        if self.frequency == 'weekly':
            return f'Every {WEEKDAYS[self.weekday]} at {at}'
        if self.frequency == 'monthly':
            last = ' (or the month’s last day)' if self.day > 28 else ''
            return f'Monthly on day {self.day}{last} at {at}'
        return f'Every day at {at}'

    def _due_in_month(self, year, month):
        return datetime.date(year, month, min(self.day, calendar.monthrange(year, month)[1]))

    def first_due_day(self, day):
        """The first clinic date on or after `day` the report is due."""
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
        """The last clinic date on or before `day` the report is due."""
        if self.frequency == 'weekly':
            return day - DAY * ((day.weekday() - self.weekday) % 7)
        if self.frequency == 'monthly':
            due = self._due_in_month(day.year, day.month)
            if due <= day:
                return due
            previous = day.replace(day=1) - DAY
            return self._due_in_month(previous.year, previous.month)
        return day


def _utc(instant):
    # Aware datetimes in one zone compare by wall time; UTC orders a repeated
    # autumn hour correctly.
    return instant.astimezone(UTC)


def next_run(schedule, now, tz):
    """The first due instant strictly after `now` (aware, clinic time)."""
    day = schedule.first_due_day(now.astimezone(tz).date())
    while True:
        at = local_instant(day, schedule.time, tz)
        if _utc(at) > _utc(now):
            return at
        day = schedule.first_due_day(day + DAY)


def latest_run(schedule, now, tz):
    """The last due instant at or before `now` (aware, clinic time)."""
    day = schedule.last_due_day(now.astimezone(tz).date())
    while True:
        at = local_instant(day, schedule.time, tz)
        if _utc(at) <= _utc(now):
            return at
        day = schedule.last_due_day(day - DAY)


def period_for(frequency, run_day):
    """(first, last) clinic dates of the period that ended before `run_day`."""
    if frequency == 'weekly':
        monday = run_day - DAY * (run_day.weekday() + 7)
        return monday, monday + DAY * 6
    if frequency == 'monthly':
        last = run_day.replace(day=1) - DAY
        return last.replace(day=1), last
    yesterday = run_day - DAY
    return yesterday, yesterday


def period_label(start, end):
    if start == end:
        return f'{start:%a} {start.day} {start:%b %Y}'
    if start.day == 1 and end == start.replace(day=calendar.monthrange(start.year, start.month)[1]):
        return f'{start:%B %Y}'
    return f'{start:%a} {start.day} {start:%b %Y} – {end:%a} {end.day} {end:%b %Y}'


def slot_key(frequency, period_start):
    """The ledger key of a scheduled run: one run per report and period."""
    return f'{frequency}:{period_start.isoformat()}'


def naive_utc(instant):
    return _utc(instant).replace(tzinfo=None)


def schedule_from(report, now, tz):
    """The naive-UTC `next_run_at` to store: the next due instant after
    `now`, or None while the report is paused."""
    if not report.active:
        return None
    return naive_utc(next_run(Schedule.of(report), now, tz))


# ---- validation ----------------------------------------------------------------

def _recipients(data):
    raw = data.get('recipients')
    if raw is None or raw == [] or raw == '':
        raise bad_request('recipients', 'add at least one email address')
    if not isinstance(raw, list):
        raise bad_request('recipients', 'must be a list of email addresses')
    if len(raw) > MAX_RECIPIENTS:
        raise bad_request('recipients', f'at most {MAX_RECIPIENTS} addresses')
    seen = []
    for item in raw:
        if not isinstance(item, str):
            raise bad_request('recipients', 'must be a list of email addresses')
        try:
            address = validate.email({'recipients': item}, 'recipients')
        except ApiError:
            shown = item.strip()[:60]
            raise bad_request('recipients', f'“{shown}” is not a valid email address')
        if address not in seen:
            seen.append(address)
    return seen


def _flag(data, field):
    raw = data.get(field, True)
    if isinstance(raw, bool):
        return raw
    raise bad_request(field, 'must be true or false')


class InvalidReport(ApiError):
    """A 400 naming the first bad field; `errors` holds every bad field, so
    a form can show each message next to its own field."""

    def __init__(self, errors):
        field, message = next(iter(errors.items()))
        super().__init__(400, f'{field}: {message}', field=field)
        self.errors = errors


def clean(data):
    """The stored fields of a definition, or InvalidReport (400)."""
    errors, fields = {}, {}

    def check(field, rule):
        try:
            fields[field] = rule()
        except ApiError as exc:
            errors[field] = exc.message.removeprefix(f'{field}: ')

    check('name', lambda: validate.text(data, 'name', max_len=NAME_MAX))
    check('kind', lambda: validate.choice(data, 'kind', KINDS))
    check('frequency', lambda: validate.choice(data, 'frequency', FREQUENCIES))
    frequency = fields.get('frequency')
    check('weekday', lambda: validate.integer(data, 'weekday', required=frequency == 'weekly',
                                              low=0, high=6))
    check('day', lambda: validate.integer(data, 'day', required=frequency == 'monthly',
                                          low=1, high=31))
    check('time', lambda: validate.time(data, 'time'))
    check('recipients', lambda: _recipients(data))
    check('format', lambda: validate.choice(data, 'format', FORMATS))
    check('subject', lambda: validate.text(data, 'subject', required=False,
                                           max_len=SUBJECT_MAX))
    check('body', lambda: validate.text(data, 'body', required=False, max_len=BODY_MAX,
                                        multiline=True))
    check('active', lambda: _flag(data, 'active'))
    if errors:
        raise InvalidReport(errors)
    # Only the field its frequency uses is kept.
    fields['weekday'] = fields['weekday'] if frequency == 'weekly' else None
    fields['day'] = fields['day'] if frequency == 'monthly' else None
    return fields


def editable(report):
    """The definition as the body a client sends (the base a PUT merges into)."""
    return {'name': report.name, 'kind': report.kind, 'frequency': report.frequency,
            'weekday': report.weekday, 'day': report.day, 'time': report.time,
            'recipients': recipients_of(report), 'format': report.format,
            'subject': report.subject, 'body': report.body, 'active': report.active}


def recipients_of(report):
    return report.recipients or []


# ---- storing ---------------------------------------------------------------------

def create(user, data, now, tz):
    fields = clean(data)
    report = ScheduledReport(created_by=user, **fields)
    report.next_run_at = schedule_from(report, now, tz)
    report.save()
    return report


def update(report, data, now, tz):
    """Change the fields present in `data`, keep the others. The next run
    is worked out again from `now` (a resumed report does not catch up on
    the time it was paused)."""
    fields = clean({**editable(report), **data})
    for name, value in fields.items():
        setattr(report, name, value)
    report.updated_at = utcnow()
    report.next_run_at = schedule_from(report, now, tz)
    report.save()
    return report


def get(report_id):
    report = ScheduledReport.get_or_none(ScheduledReport.id == report_id)
    if report is None:
        raise not_found('report not found')
    return report


def page(limit, offset):
    query = ScheduledReport.select().order_by(ScheduledReport.name, ScheduledReport.id)
    return query.count(), list(query.limit(limit).offset(offset))


def latest_executions(reports):
    """{report id: its newest execution} in one query."""
    ids = [report.id for report in reports]
    if not ids:
        return {}
    newest = (ReportExecution
              .select(ReportExecution.report, fn.MAX(ReportExecution.id).alias('newest'))
              .where(ReportExecution.report.in_(ids))
              .group_by(ReportExecution.report))
    rows = (ReportExecution.select()
            .join(newest, on=(ReportExecution.id == newest.c.newest)))
    return {row.report_id: row for row in rows}


def to_json(report, clock, last=None):
    return {
        'id': report.id,
        **editable(report),
        'next_run_at': clock.iso(report.next_run_at),
        'schedule': Schedule.of(report).describe(clock.tz),
        'created_at': clock.iso(report.created_at),
        'updated_at': clock.iso(report.updated_at),
        'last_execution': ({'id': last.id, 'status': last.status,
                            'triggered_by': last.triggered_by,
                            'started_at': clock.iso(last.started_at)} if last else None),
    }
