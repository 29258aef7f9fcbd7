"""The clinic-time periodic jobs (SPEC §3), one row each: when it runs, which
slot a run covers, whether a missed slot is still worth running, the work of
one slot and what "Run now" runs.

tasks.py makes each row's two Huey tasks (the periodic `<name>` and the
on-demand `<name>_for`), the jobs API checks "Run now" with it, housekeeping
restarts interrupted runs by it and the status page shows it: adding a
clinic-time job is adding a row here (and its time to the settings).
"""
import dataclasses
import datetime
import logging
from typing import Callable

from app import runtime, schedule, validate
from app.clock import UTC
from app.db import database
from app.errors import bad_request, not_found
from app.services import backup, monthly_reports, reminders

log = logging.getLogger('clinicdesk.schedule')


@dataclasses.dataclass(frozen=True)
class PeriodicJob:
    name: str
    time_setting: str       # the settings field holding its clinic wall time
    monthly: bool           # on the 1st for the month before; else daily for its own day
    late: bool              # a daily slot is still worth running once its clinic day is over
    work: Callable          # work(settings, key): the function that does slot `key`
    default_key: Callable   # default_key(today): the slot an on-demand run covers by default
    run_now_key: Callable   # run_now_key(body, today): the slot "Run now" asks for, or 400

    def enabled(self, settings):
        """Whether its time is set (REMINDER_DAY_BEFORE may be unset: off)."""
        return getattr(settings, self.time_setting) is not None

    def job(self, settings):
        return schedule.Job(self.name, settings.tz, getattr(settings, self.time_setting),
                            monthly=self.monthly, late=self.late)


def _reminders(settings, key):
    day = datetime.date.fromisoformat(key)  # a bad key fails here, before the ledger
    return lambda: reminders.send_for_day(settings, day)


def _day_before_reminders(settings, key):
    # The slot is the evening's date; its reminders are for the day after.
    day = datetime.date.fromisoformat(key) + datetime.timedelta(days=1)
    return lambda: reminders.send_for_day(settings, day, kind='day_before')


def _monthly_reports(settings, key):
    return lambda: monthly_reports.build_month(settings, key)


def _backup(settings, key):
    return lambda: backup.run_nightly(settings)


def _reminders_day(body, today):
    day = validate.date(body, 'date', required=False) or today
    if day < today:
        raise bad_request('date', 'must be today or later (reminders are for coming appointments)')
    return day.isoformat()


def _reports_month(body, today):
    month = validate.month(body, 'month', required=False) or schedule.previous_month(today)
    if month >= schedule.month_key(today):
        raise bad_request('month', 'must be a month that has ended')
    return month


JOBS = {row.name: row for row in (
    # Today's reminders at REMINDER_TIME, or on catch-up before the day ends.
    PeriodicJob('daily_reminders', 'reminder_time', monthly=False, late=False,
                work=_reminders, default_key=lambda today: today.isoformat(),
                run_now_key=_reminders_day),
    # Tomorrow's reminders at REMINDER_DAY_BEFORE (unset: off); the slot is today.
    PeriodicJob('day_before_reminders', 'reminder_day_before', monthly=False, late=False,
                work=_day_before_reminders, default_key=lambda today: today.isoformat(),
                run_now_key=_reminders_day),
    # Last month's reports on the 1st at MONTHLY_REPORT_TIME, or any time later.
    PeriodicJob('monthly_reports', 'monthly_report_time', monthly=True, late=True,
                work=_monthly_reports, default_key=schedule.previous_month,
                run_now_key=_reports_month),
    # A backup archive at BACKUP_TIME, keeping BACKUP_KEEP; "Run now" is today's.
    PeriodicJob('nightly_backup', 'backup_time', monthly=False, late=False,
                work=_backup, default_key=lambda today: today.isoformat(),
                run_now_key=lambda body, today: None),
)}


def get(name):
    """The row of `name`, or a 404 listing the jobs there are."""
    if name not in JOBS:
        raise not_found('job not found; jobs are ' + ', '.join(sorted(JOBS)))
    return JOBS[name]


def jobs(settings):
    """{name: schedule.Job} as `settings` time them; jobs turned off are left out."""
    return {name: row.job(settings) for name, row in JOBS.items() if row.enabled(settings)}


def run_due(name, settings, now):
    """The periodic run: the latest slot of `name`, once, if still meaningful."""
    row = JOBS[name]
    if not row.enabled(settings):
        return {'job': name, 'skipped': f'off: {row.time_setting.upper()} is not set'}
    return schedule.run_due(row.job(settings), now,
                            lambda slot: row.work(settings, slot.key)())


def run_now(name, settings, key, today):
    """An on-demand run of slot `key` (None: the job's default for `today`),
    done again even if it is done already."""
    row = JOBS[name]
    key = key or row.default_key(today)
    return schedule.run_slot(name, key, row.work(settings, key), force=True)


def running_now(name, today):
    """The live run of the slot "Run now" covers by default (None when
    nothing runs it): queuing another would only be skipped."""
    return schedule.running(name, JOBS[name].default_key(today))


def clinic_cron(name):
    """A validator for @huey.periodic_task: true while the latest slot of
    `name` in clinic time is due and not done. Huey passes naive UTC."""
    def is_due(utc_naive):
        try:
            if not JOBS[name].enabled(runtime.settings()):
                return False
            with database.connection_context():
                current = JOBS[name].job(runtime.settings())
                return schedule.due_slot(current, utc_naive.replace(tzinfo=UTC)) is not None
        except Exception:
            log.exception('checking whether %s is due failed', name)
            return False
    is_due.__name__ = f'{name}_is_due'
    return is_due
