"""The clinic-time recurrence shared by the periodic jobs and the scheduled
reports: the same rule gives the same instants to both, across DST."""
import datetime
from zoneinfo import ZoneInfo

from app.recurrence import Recurrence, latest_run, next_run
from app.schedule import Job
from app.services.reports import Schedule

UTC = datetime.timezone.utc
LA = ZoneInfo('America/Los_Angeles')


def utc(*parts):
    return datetime.datetime(*parts, tzinfo=UTC)


def test_a_daily_time_in_the_spring_gap_runs_at_the_first_instant_after_it():
    rule = Recurrence('daily', datetime.time(2, 30))
    # 8 March 2026: 02:00 PST jumps to 03:00 PDT, so 02:30 does not exist.
    run = next_run(rule, utc(2026, 3, 8, 9, 0), LA)
    assert run.astimezone(UTC) == utc(2026, 3, 8, 10, 0)
    assert (run.hour, run.minute) == (3, 0)
    assert next_run(rule, run, LA).astimezone(UTC) == utc(2026, 3, 9, 9, 30)  # 02:30 PDT


def test_a_daily_time_repeated_in_the_autumn_runs_once_at_its_first_occurrence():
    rule = Recurrence('daily', datetime.time(1, 30))
    first = next_run(rule, utc(2026, 11, 1, 7, 0), LA)
    assert first.astimezone(UTC) == utc(2026, 11, 1, 8, 30)  # 01:30 PDT
    # An hour later it is 01:30 again (PST): still that day's run, not a new one.
    assert latest_run(rule, utc(2026, 11, 1, 9, 30), LA) == first
    assert next_run(rule, first, LA).astimezone(UTC) == utc(2026, 11, 2, 9, 30)  # 01:30 PST


def test_a_job_and_a_report_with_the_same_rule_fall_due_at_the_same_instants():
    job = Job('monthly_reports', LA, datetime.time(1, 30), monthly=True)
    report = Schedule('monthly', datetime.time(1, 30), day=1)
    now = utc(2026, 10, 15, 12, 0)
    for _ in range(6):  # across the November and March changes
        slot = job.next_slot(now)
        assert slot.at == next_run(report, now, LA)
        assert job.latest_slot(slot.at).at == latest_run(report, slot.at, LA) == slot.at
        now = slot.at
    assert now.astimezone(UTC) == utc(2027, 4, 1, 8, 30)
