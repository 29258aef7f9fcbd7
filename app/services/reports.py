"""Scheduled report definitions (SPEC §4): validation, the schedule of a
report and the period a run covers.

A report runs daily, weekly on a weekday or monthly on a day, at a clinic
wall time (app.recurrence counts the due instants, DST included).

A run covers the period that just ended before its due day: yesterday, the
last full calendar week (Monday to Sunday) or the last calendar month. The
schedule functions take an explicit `now`, so tests need no clock patching.
"""
import calendar
import datetime

from peewee import fn

from app import validate
from app.clock import naive_utc
from app.errors import ApiError, bad_request, not_found
from app.models import ReportExecution, ScheduledReport, utcnow
from app.recurrence import FREQUENCIES, Recurrence, next_run

KINDS = ('appointments', 'doctor_activity', 'treatments')
FORMATS = ('csv', 'xlsx', 'pdf')
WEEKDAYS = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday')
KIND_LABELS = {'appointments': 'Appointments', 'doctor_activity': 'Doctor activity',
               'treatments': 'Treatment log'}
NAME_MAX = 120
SUBJECT_MAX = 200
BODY_MAX = 5000
MAX_RECIPIENTS = 50
DAY = datetime.timedelta(days=1)


class Schedule(Recurrence):
    """A report's recurrence, read from its row."""

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


def schedule_from(report, now, tz):
    """The naive-UTC `next_run_at` to store: the next due instant after
    `now`, or None while the report is paused."""
    if not report.active:
        return None
    return naive_utc(next_run(Schedule.of(report), now, tz))


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


def create(user, data, now, tz):
    fields = clean(data)
    report = ScheduledReport(created_by=user.id, **fields)
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


def describe_schedule(report, tz=None):
    """The report's schedule in words. A row whose stored schedule cannot be
    read (written by hand) is still listed, saying so, not a failed page:
    the scheduler skips it the same way (report_runs)."""
    try:
        return Schedule.of(report).describe(tz)
    except ValueError:
        return f'Unreadable schedule ({report.frequency} at {report.time}): edit it to fix it'


def to_json(report, clock, last=None):
    return {
        'id': report.id,
        **editable(report),
        'next_run_at': clock.iso(report.next_run_at),
        'schedule': describe_schedule(report, clock.tz),
        'created_at': clock.iso(report.created_at),
        'updated_at': clock.iso(report.updated_at),
        'last_execution': ({'id': last.id, 'status': last.status,
                            'triggered_by': last.triggered_by,
                            'started_at': clock.iso(last.started_at)} if last else None),
    }
