"""Scheduled reports: the schedule math with an explicit clock (daily,
weekly, monthly, month-end days, DST), the period each run covers, and the
scheduler's claim of due slots: exactly once, one catch-up run after
downtime, next_run_at always moving forward."""
import datetime
import uuid
from zoneinfo import ZoneInfo

import pytest

from app.clock import Clock
from app.db import database
from app.models import ReportExecution, ScheduledReport
from app.recurrence import latest_run, next_run
from app.services import report_runs, reports
from app.services.reports import Schedule, period_for

UTC = datetime.timezone.utc
LONDON = ZoneInfo('Europe/London')
NEW_YORK = ZoneInfo('America/New_York')


def at(tz, *parts):
    return datetime.datetime(*parts, tzinfo=tz)


def daily(hhmm='07:00'):
    return Schedule('daily', datetime.time.fromisoformat(hhmm))


def weekly(weekday, hhmm='07:00'):
    return Schedule('weekly', datetime.time.fromisoformat(hhmm), weekday=weekday)


def monthly(day, hhmm='07:00'):
    return Schedule('monthly', datetime.time.fromisoformat(hhmm), day=day)


def test_daily_report_runs_today_if_its_time_is_still_ahead_else_tomorrow():
    assert next_run(daily(), at(UTC, 2026, 3, 10, 6, 59), UTC) == at(UTC, 2026, 3, 10, 7, 0)
    assert next_run(daily(), at(UTC, 2026, 3, 10, 7, 0), UTC) == at(UTC, 2026, 3, 11, 7, 0)
    assert next_run(daily(), at(UTC, 2026, 12, 31, 8, 0), UTC) == at(UTC, 2027, 1, 1, 7, 0)


def test_weekly_report_runs_on_its_weekday():
    # 2026-03-10 is a Tuesday; weekday 0 is Monday, 6 is Sunday.
    now = at(UTC, 2026, 3, 10, 12, 0)
    assert next_run(weekly(0), now, UTC) == at(UTC, 2026, 3, 16, 7, 0)
    assert next_run(weekly(1), now, UTC) == at(UTC, 2026, 3, 17, 7, 0)
    assert next_run(weekly(1, '13:00'), now, UTC) == at(UTC, 2026, 3, 10, 13, 0)
    assert next_run(weekly(6), now, UTC) == at(UTC, 2026, 3, 15, 7, 0)


def test_monthly_report_on_the_31st_runs_on_the_last_day_of_shorter_months():
    report = monthly(31)
    assert next_run(report, at(UTC, 2026, 1, 31, 8, 0), UTC) == at(UTC, 2026, 2, 28, 7, 0)
    assert next_run(report, at(UTC, 2028, 2, 1, 0, 0), UTC) == at(UTC, 2028, 2, 29, 7, 0)
    assert next_run(report, at(UTC, 2026, 3, 31, 8, 0), UTC) == at(UTC, 2026, 4, 30, 7, 0)
    assert next_run(report, at(UTC, 2026, 4, 30, 8, 0), UTC) == at(UTC, 2026, 5, 31, 7, 0)
    assert next_run(monthly(30), at(UTC, 2026, 2, 1, 0, 0), UTC) == at(UTC, 2026, 2, 28, 7, 0)


def test_monthly_report_on_an_ordinary_day():
    assert next_run(monthly(1), at(UTC, 2026, 3, 1, 6, 0), UTC) == at(UTC, 2026, 3, 1, 7, 0)
    assert next_run(monthly(1), at(UTC, 2026, 3, 1, 7, 30), UTC) == at(UTC, 2026, 4, 1, 7, 0)
    assert next_run(monthly(15), at(UTC, 2026, 12, 20, 0, 0), UTC) == at(UTC, 2027, 1, 15, 7, 0)


def test_clinic_time_is_kept_across_daylight_saving_changes():
    # London: winter 07:00 is 07:00 UTC, summer 07:00 is 06:00 UTC.
    before = next_run(daily(), at(LONDON, 2026, 3, 28, 8, 0), LONDON)
    after = next_run(daily(), before, LONDON)
    assert before.astimezone(UTC) == at(UTC, 2026, 3, 29, 6, 0)
    assert after.astimezone(UTC) == at(UTC, 2026, 3, 30, 6, 0)
    autumn = next_run(daily(), at(LONDON, 2026, 10, 24, 8, 0), LONDON)
    assert autumn.astimezone(UTC) == at(UTC, 2026, 10, 25, 7, 0)


def test_a_time_skipped_by_spring_forward_runs_right_after_the_gap():
    # 2026-03-29 in London: 01:00 GMT jumps to 02:00 BST; 01:30 does not exist.
    run = next_run(daily('01:30'), at(LONDON, 2026, 3, 28, 12, 0), LONDON)
    assert run.astimezone(UTC) == at(UTC, 2026, 3, 29, 1, 0)
    following = next_run(daily('01:30'), run, LONDON)
    assert following.astimezone(UTC) == at(UTC, 2026, 3, 30, 0, 30)


def test_a_time_that_happens_twice_in_autumn_runs_once_at_the_first():
    # 2026-10-25 in London: 01:00-02:00 BST, then 01:00-02:00 GMT again.
    run = next_run(daily('01:30'), at(LONDON, 2026, 10, 24, 12, 0), LONDON)
    assert run.astimezone(UTC) == at(UTC, 2026, 10, 25, 0, 30)
    following = next_run(daily('01:30'), run, LONDON)
    assert following.astimezone(UTC) == at(UTC, 2026, 10, 26, 1, 30)


def test_weekly_report_in_a_zone_far_from_utc_uses_the_clinic_weekday():
    # Monday 07:00 in New York is Monday 11:00 UTC (summer) - still Monday.
    now = at(NEW_YORK, 2026, 7, 5, 23, 30)  # Sunday night, already Monday in UTC
    run = next_run(weekly(0), now, NEW_YORK)
    assert run == at(NEW_YORK, 2026, 7, 6, 7, 0)
    assert run.astimezone(UTC) == at(UTC, 2026, 7, 6, 11, 0)


def test_latest_run_is_the_last_due_instant_at_or_before_now():
    assert latest_run(daily(), at(UTC, 2026, 3, 10, 7, 0), UTC) == at(UTC, 2026, 3, 10, 7, 0)
    assert latest_run(daily(), at(UTC, 2026, 3, 10, 6, 59), UTC) == at(UTC, 2026, 3, 9, 7, 0)
    assert latest_run(weekly(0), at(UTC, 2026, 3, 15, 23, 0), UTC) == at(UTC, 2026, 3, 9, 7, 0)
    assert latest_run(monthly(31), at(UTC, 2026, 3, 15, 0, 0), UTC) == at(UTC, 2026, 2, 28, 7, 0)


def test_each_run_covers_the_period_that_just_ended():
    tuesday = datetime.date(2026, 3, 10)
    assert period_for('daily', tuesday) == (datetime.date(2026, 3, 9), datetime.date(2026, 3, 9))
    assert period_for('weekly', tuesday) == (datetime.date(2026, 3, 2), datetime.date(2026, 3, 8))
    assert period_for('weekly', datetime.date(2026, 3, 8)) == (datetime.date(2026, 2, 23),
                                                                datetime.date(2026, 3, 1))
    assert period_for('monthly', datetime.date(2026, 3, 1)) == (datetime.date(2026, 2, 1),
                                                                 datetime.date(2026, 2, 28))
    assert period_for('monthly', datetime.date(2026, 1, 31)) == (datetime.date(2025, 12, 1),
                                                                  datetime.date(2025, 12, 31))


def test_period_labels_read_naturally():
    day = datetime.date(2026, 3, 9)
    assert reports.period_label(day, day) == 'Mon 9 Mar 2026'
    assert reports.period_label(datetime.date(2026, 2, 1), datetime.date(2026, 2, 28)) == 'February 2026'
    assert reports.period_label(datetime.date(2026, 3, 2), datetime.date(2026, 3, 8)) == \
        'Mon 2 Mar 2026 – Sun 8 Mar 2026'


@pytest.fixture
def db(settings):
    with database.connection_context():
        yield settings


def make_report(next_run_at, frequency='daily', **fields):
    fields = {'name': f'Schedule test {uuid.uuid4().hex[:6]}', 'kind': 'appointments',
              'frequency': frequency, 'time': '07:00', 'format': 'csv', 'active': True,
              'recipients': ['owner@example.test'], **fields}
    return ScheduledReport.create(next_run_at=next_run_at, **fields)


class Queue:
    """Collects the executions the scheduler hands back for queueing."""

    def __init__(self):
        self.executions = []


def executions_of(report):
    return list(ReportExecution.select()
                .where(ReportExecution.report == report)
                .order_by(ReportExecution.id))


def test_a_due_report_runs_once_and_its_next_run_moves_forward(db):
    report = make_report(datetime.datetime(2031, 5, 10, 7, 0))
    queue = Queue()
    now = at(UTC, 2031, 5, 10, 7, 0, 30)
    queue.executions += report_runs.claim_due(now, UTC)
    queue.executions += report_runs.claim_due(now, UTC)
    runs = executions_of(report)
    assert [e.id for e in queue.executions if e.report_id == report.id] == [runs[0].id]
    assert len(runs) == 1
    assert (runs[0].triggered_by, runs[0].status) == ('schedule', 'running')
    assert (runs[0].period_start, runs[0].period_end) == (datetime.date(2031, 5, 9),) * 2
    assert ScheduledReport.get_by_id(report.id).next_run_at == datetime.datetime(2031, 5, 11, 7, 0)


def test_a_report_not_yet_due_and_a_paused_report_do_not_run(db):
    early = make_report(datetime.datetime(2031, 6, 10, 7, 0))
    paused = make_report(datetime.datetime(2031, 6, 9, 7, 0), active=False)
    queue = Queue()
    queue.executions += report_runs.claim_due(at(UTC, 2031, 6, 10, 6, 59), UTC)
    assert executions_of(early) == [] and executions_of(paused) == []
    assert [e for e in queue.executions if e.report_id in (early.id, paused.id)] == []


def test_slots_missed_while_down_give_one_catch_up_run_for_the_latest(db):
    # Down from the 3rd to the 7th at 09:00: five daily slots were missed.
    report = make_report(datetime.datetime(2031, 7, 3, 7, 0))
    queue = Queue()
    queue.executions += report_runs.claim_due(at(UTC, 2031, 7, 7, 9, 0), UTC)
    runs = executions_of(report)
    assert len(runs) == 1
    assert runs[0].period_start == datetime.date(2031, 7, 6)  # the latest slot: the 7th's
    assert runs[0].slot == 'daily:2031-07-06'
    assert ScheduledReport.get_by_id(report.id).next_run_at == datetime.datetime(2031, 7, 8, 7, 0)


def test_a_slot_is_claimed_once_even_by_two_schedulers(db):
    report = make_report(datetime.datetime(2031, 8, 3, 7, 0))
    stale = ScheduledReport.get_by_id(report.id)
    first, second = Queue(), Queue()
    now = at(UTC, 2031, 8, 3, 7, 1)
    first.executions += report_runs.claim_due(now, UTC)
    # A second scheduler that read the report before the first moved it on.
    assert report_runs._claim_slot(stale, now, UTC) is None
    # Even with next_run_at set back, the (report, slot) ledger refuses a rerun.
    ScheduledReport.update(next_run_at=datetime.datetime(2031, 8, 3, 7, 0)).where(
        ScheduledReport.id == report.id).execute()
    second.executions += report_runs.claim_due(now, UTC)
    assert len(executions_of(report)) == 1
    assert [e.report_id for e in second.executions if e.report_id == report.id] == []
    assert ScheduledReport.get_by_id(report.id).next_run_at == datetime.datetime(2031, 8, 4, 7, 0)


def test_next_run_moves_forward_even_when_the_run_fails(db):
    report = make_report(datetime.datetime(2031, 9, 1, 7, 0), frequency='monthly', day=1)
    queue = Queue()
    queue.executions += report_runs.claim_due(at(UTC, 2031, 9, 1, 7, 0), UTC)
    (execution,) = executions_of(report)
    assert (execution.period_start, execution.period_end) == (datetime.date(2031, 8, 1),
                                                              datetime.date(2031, 8, 31))
    with pytest.raises(report_runs.ReportFailed):
        # Over its time limit at once: stopped.
        report_runs.run_execution(db, Clock(UTC), execution.id,
                                  max_run=datetime.timedelta(seconds=-1))
    failed = ReportExecution.get_by_id(execution.id)
    assert failed.status == 'failed' and 'longer than' in failed.error
    assert failed.file_name is None
    assert ScheduledReport.get_by_id(report.id).next_run_at == datetime.datetime(2031, 10, 1, 7, 0)


def test_a_weekly_report_in_london_is_claimed_at_clinic_time_after_the_clock_change(db):
    # Mondays 07:00 London; 2031-03-31 is the first Monday after the change (06:00 UTC).
    report = make_report(datetime.datetime(2031, 3, 31, 6, 0), frequency='weekly', weekday=0)
    queue = Queue()
    queue.executions += report_runs.claim_due(at(UTC, 2031, 3, 31, 5, 59), LONDON)
    assert executions_of(report) == []
    queue.executions += report_runs.claim_due(at(UTC, 2031, 3, 31, 6, 0), LONDON)
    (execution,) = executions_of(report)
    assert (execution.period_start, execution.period_end) == (datetime.date(2031, 3, 24),
                                                              datetime.date(2031, 3, 30))
    assert ScheduledReport.get_by_id(report.id).next_run_at == datetime.datetime(2031, 4, 7, 6, 0)


def test_a_report_whose_stored_time_is_broken_is_skipped_and_the_others_run(db, caplog):
    due = datetime.datetime(2031, 8, 4, 7, 0)
    first, broken, last = make_report(due), make_report(due), make_report(due)
    # Written by hand into the database: an hour that does not exist.
    ScheduledReport.update(time='25:00').where(ScheduledReport.id == broken.id).execute()
    try:
        queued = report_runs.claim_due(at(UTC, 2031, 8, 4, 7, 0, 30), UTC)
    finally:
        # The session's other tests list every report of this database.
        ScheduledReport.delete().where(ScheduledReport.id == broken.id).execute()

    assert {e.report_id for e in queued} >= {first.id, last.id}
    assert broken.id not in {e.report_id for e in queued}
    assert executions_of(broken) == []
    assert f'scheduled report {broken.id} skipped: ValueError' in caplog.text
