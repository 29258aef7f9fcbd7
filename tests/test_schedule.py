"""Clinic-time crons and the slot ledger (SPEC §3): DST-correct slots,
catch-up after downtime, one run per slot. Driven with explicit times."""
import datetime
import socket
import subprocess
import uuid
from zoneinfo import ZoneInfo

import pytest

from app import runtime, schedule, workers
from app.clock import naive_utc
from app.db import database
from app.models import JobRun, OutboxMessage
from app.recurrence import local_instant
from app.schedule import Job
from app.services import housekeeping, periodic

UTC = datetime.timezone.utc
LA = ZoneInfo('America/Los_Angeles')
KIRITIMATI = ZoneInfo('Pacific/Kiritimati')


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.fixture
def db(settings):
    with database.connection_context():
        yield


def fresh_name():
    return f'test-job-{uuid.uuid4().hex[:8]}'


def dead_owner():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return f'{socket.gethostname()}:{proc.pid}'


def test_reminder_time_skipped_by_spring_forward_runs_at_first_instant_after():
    at = local_instant(datetime.date(2026, 3, 8), datetime.time(2, 30), LA)
    assert at.astimezone(UTC) == utc(2026, 3, 8, 10, 0)
    assert (at.hour, at.minute) == (3, 0)


def test_time_repeated_by_autumn_change_is_its_first_occurrence():
    at = local_instant(datetime.date(2026, 11, 1), datetime.time(1, 30), LA)
    assert at.astimezone(UTC) == utc(2026, 11, 1, 8, 30)  # 01:30 PDT, not 01:30 PST


def test_daily_slot_follows_the_clinic_zone_across_dst():
    job = Job('daily_reminders', LA, datetime.time(8, 0))
    assert job.latest_slot(utc(2026, 3, 7, 16, 0)).at.astimezone(UTC) == utc(2026, 3, 7, 16, 0)
    # After spring forward 08:00 local is an hour earlier in UTC.
    assert job.latest_slot(utc(2026, 3, 8, 15, 0)).key == '2026-03-08'
    assert job.latest_slot(utc(2026, 3, 8, 14, 59)).key == '2026-03-07'


def test_next_run_at_is_the_next_clinic_time_slot(settings):
    la = settings.with_changes(tz=LA, reminder_time=datetime.time(2, 30))
    now = utc(2026, 3, 8, 9, 0)  # 01:00 PST, before the gap
    nxt = periodic.JOBS['daily_reminders'].job(la).next_slot(now).at
    assert nxt.astimezone(UTC) == utc(2026, 3, 8, 10, 0)
    monthly = settings.with_changes(tz=KIRITIMATI, monthly_report_time=datetime.time(7, 0))
    nxt = periodic.JOBS['monthly_reports'].job(monthly).next_slot(utc(2026, 2, 28, 16, 0)).at
    assert (nxt.date(), nxt.hour, nxt.astimezone(UTC)) == (
        datetime.date(2026, 3, 1), 7, utc(2026, 2, 28, 17, 0))


def test_monthly_slot_in_a_zone_far_ahead_of_utc_reports_the_clinics_previous_month():
    job = Job('monthly_reports', KIRITIMATI, datetime.time(7, 0), monthly=True)
    # 17:00 UTC on 28 Feb is already 07:00 on 1 March in Kiritimati (UTC+14).
    assert job.latest_slot(utc(2026, 2, 28, 17, 0)).key == '2026-02'
    assert job.latest_slot(utc(2026, 2, 28, 16, 59)).key == '2026-01'


def test_missed_reminder_slot_is_caught_up_later_that_day_but_not_the_next(db):
    job = Job(fresh_name(), LA, datetime.time(8, 0))
    # The consumer was down at 08:00; it comes back at 15:00 clinic time.
    back = datetime.datetime(2026, 4, 14, 15, 0, tzinfo=LA)
    assert job.latest_slot(back).key == '2026-04-14'
    assert schedule.due_slot(job, back).key == '2026-04-14'
    # Came back only after midnight: yesterday's reminders are no longer sent.
    assert schedule.due_slot(job, datetime.datetime(2026, 4, 15, 0, 30, tzinfo=LA)) is None


def test_missed_monthly_slot_is_caught_up_weeks_later(db):
    job = Job(fresh_name(), KIRITIMATI, datetime.time(7, 0), monthly=True)
    later = datetime.datetime(2026, 5, 20, 12, 0, tzinfo=KIRITIMATI)
    slot = schedule.due_slot(job, later)
    assert slot.key == '2026-04'


def test_a_slot_runs_once_however_often_it_is_due(db):
    job = Job(fresh_name(), LA, datetime.time(1, 30))
    first = datetime.datetime(2026, 11, 1, 1, 31, tzinfo=LA, fold=0)    # PDT
    second = datetime.datetime(2026, 11, 1, 1, 31, tzinfo=LA, fold=1)   # PST, an hour later
    calls = []
    slot = schedule.due_slot(job, first)
    assert slot is not None
    now_utc = naive_utc(first)
    schedule.run_slot(job.name, slot.key, lambda: calls.append(1) or {'ok': True}, now_utc=now_utc)
    assert schedule.due_slot(job, second) is None
    again = schedule.run_slot(job.name, slot.key, lambda: calls.append(2), now_utc=now_utc)
    assert calls == [1]
    assert 'skipped' in again
    assert JobRun.get(JobRun.job == job.name).status == 'success'


def test_slot_left_running_by_a_killed_consumer_is_taken_over(db):
    name, when = fresh_name(), datetime.datetime(2026, 4, 14, 9, 0)
    JobRun.create(job=name, slot='2026-04-14', status='running', owner=dead_owner(),
                  started_at=when, attempts=1)
    job = Job(name, UTC, datetime.time(8, 0))
    assert schedule.due_slot(job, when.replace(tzinfo=UTC)) is not None
    run = schedule.claim(name, '2026-04-14', now_utc=when)
    assert run is not None and run.owner == workers.identity() and run.attempts == 2


def test_slot_running_in_a_live_consumer_is_left_alone(db):
    name, when = fresh_name(), datetime.datetime(2026, 4, 14, 9, 0)
    assert schedule.claim(name, '2026-04-14', now_utc=when) is not None
    job = Job(name, UTC, datetime.time(8, 0))
    assert schedule.due_slot(job, when.replace(tzinfo=UTC)) is None
    assert schedule.claim(name, '2026-04-14', now_utc=when) is None
    assert schedule.claim(name, '2026-04-14', now_utc=when, force=True) is None


def test_a_manual_rerun_of_a_done_slot_runs_again(db):
    name, when = fresh_name(), datetime.datetime(2026, 4, 14, 9, 0)
    schedule.run_slot(name, '2026-04-14', lambda: {'n': 1}, now_utc=when)
    assert schedule.claim(name, '2026-04-14', now_utc=when) is None
    assert schedule.claim(name, '2026-04-14', now_utc=when, force=True) is not None


def test_a_failed_run_is_recorded_and_retried_after_a_pause(db):
    name, when = fresh_name(), datetime.datetime(2026, 4, 14, 9, 0)
    job = Job(name, UTC, datetime.time(8, 0))

    def broken():
        raise RuntimeError('database on fire')

    with pytest.raises(RuntimeError):
        schedule.run_slot(name, '2026-04-14', broken, now_utc=when)
    row = JobRun.get(JobRun.job == name)
    assert row.status == 'failed' and 'database on fire' in row.error
    row.finished_at = when  # finish times are real; pin it to the test's clock
    row.save()
    assert schedule.due_slot(job, when.replace(tzinfo=UTC)) is None
    assert schedule.due_slot(job, (when + schedule.FAILED_RETRY_AFTER).replace(tzinfo=UTC))
    # Huey's own retry does not wait for the pause.
    assert schedule.run_slot(name, '2026-04-14', lambda: {'n': 2}, now_utc=when) == {'n': 2}


def test_validator_reads_hueys_naive_utc_in_clinic_time(db, settings):
    la = settings.with_changes(tz=LA, reminder_time=datetime.time(8, 0))
    validate = periodic.clinic_cron('daily_reminders')
    runtime.configure(la)
    try:
        # A day long past: no ledger row for it, so only the clock decides.
        assert validate(datetime.datetime(2021, 6, 1, 14, 59)) is False  # 07:59 PDT: day over
        assert validate(datetime.datetime(2021, 6, 1, 15, 0)) is True    # 08:00 PDT
        assert validate(datetime.datetime(2021, 6, 2, 6, 59)) is True    # 23:59 PDT: still that day
        assert validate(datetime.datetime(2021, 6, 2, 7, 0)) is False    # midnight: day over
    finally:
        runtime.configure(settings)


def test_last_run_is_the_latest_ledger_row(db):
    name = fresh_name()
    assert schedule.last_run(name) is None
    schedule.run_slot(name, 'a', lambda: {}, now_utc=datetime.datetime(2026, 1, 1, 8))
    schedule.run_slot(name, 'b', lambda: {}, now_utc=datetime.datetime(2026, 1, 2, 8))
    assert schedule.last_run(name).slot == 'b'


def test_housekeeping_restarts_interrupted_runs_still_worth_finishing(own_db):
    now = datetime.datetime(2026, 4, 14, 12, 0, tzinfo=UTC)
    started = datetime.datetime(2026, 4, 14, 11, 0)  # an hour ago: within MAX_RUN
    for job, slot, owner in (('daily_reminders', '2026-04-14', dead_owner()),    # today
                             ('daily_reminders', '2026-04-20', dead_owner()),    # run ahead
                             ('daily_reminders', '2026-04-13', dead_owner()),    # day over
                             ('monthly_reports', '2026-03', dead_owner()),       # any time
                             ('daily_reminders', '2026-04-15', workers.identity()),  # alive
                             ('someone-elses-job', 'x', dead_owner())):          # not ours
        JobRun.create(job=job, slot=slot, status='running', owner=owner, started_at=started,
                      attempts=1)

    restart = schedule.recover(periodic.jobs(own_db), now)

    assert sorted(restart) == [('daily_reminders', '2026-04-14'),
                               ('daily_reminders', '2026-04-20'),
                               ('monthly_reports', '2026-03')]
    status = dict(JobRun.select(JobRun.slot, JobRun.status).tuples())
    assert status['2026-04-13'] == 'failed'
    assert status['2026-04-15'] == 'running' and status['x'] == 'running'


def test_housekeeping_prunes_old_history_but_keeps_recent_and_unsent(own_db):
    now = datetime.datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    old, recent = datetime.datetime(2026, 5, 1), datetime.datetime(2026, 8, 20)
    JobRun.create(job='daily_reminders', slot='2026-05-01', status='success', started_at=old)
    JobRun.create(job='daily_reminders', slot='2026-08-20', status='success', started_at=recent)
    for key, status, sent_at in (('old-sent', 'sent', old), ('new-sent', 'sent', recent),
                                 ('old-failed', 'failed', None)):
        OutboxMessage.create(dedupe_key=key, to='a@example.test', subject='s', text_body='t',
                             status=status, sent_at=sent_at, created_at=old)

    pruned = housekeeping.prune(now)

    assert (pruned['job_runs'], pruned['sent_mail']) == (1, 1)
    assert [r.slot for r in JobRun.select()] == ['2026-08-20']
    assert sorted(m.dedupe_key for m in OutboxMessage.select()) == ['new-sent', 'old-failed']


def test_a_run_left_by_an_earlier_process_with_our_pid_is_not_taken_for_ours():
    # A restarted container brings its worker back with the same pid: the
    # token in the owner tells the dead process from the live one.
    host, pid, _ = workers.identity().split(':')
    assert workers.alive(workers.identity())
    assert not workers.alive(f'{host}:{pid}:0ldt0ken')
    assert workers.alive(f'{host}:1')  # init, an older owner format: alive
