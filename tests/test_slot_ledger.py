"""No periodic slot is left 'running' once its run has ended: the outcome is
written even when SQLite says "database is locked", and many consumers on
one data dir run each slot once."""
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing

import pytest

from app import schedule
from app.db import database
from app.models import JobRun, User
from tests.conftest import ROOT, WorkerProcess, base_env, wait_until


def leave_a_select_open_and_let_another_writer_commit(settings):
    """The probe's case: this connection is still reading (a half-read
    SELECT pins its snapshot) when another process commits; this
    connection's next write then fails at once with "database is locked"."""
    for n in range(2):
        User.create(email=f'ledger-{n}@example.test', password_hash='-', name='Ledger',
                    role='patient')
    cursor = database.execute_sql('SELECT id FROM "user"')
    cursor.fetchone()
    with closing(sqlite3.connect(settings.data_dir / 'clinic.db')) as other:
        other.execute('UPDATE "user" SET name = name || \'.\' WHERE email LIKE \'ledger-%\'')
        other.commit()
    return cursor


def slot(job, key):
    return JobRun.get(JobRun.job == job, JobRun.slot == key)


def test_a_failed_run_is_recorded_failed_though_its_first_write_is_refused(own_db):
    def work():
        reading = leave_a_select_open_and_let_another_writer_commit(own_db)  # noqa: F841
        raise RuntimeError('the work itself failed')

    with pytest.raises(RuntimeError):
        schedule.run_slot('daily_reminders', '2031-01-06', work)
    run = slot('daily_reminders', '2031-01-06')
    assert run.status == 'failed' and 'the work itself failed' in run.error
    assert run.finished_at is not None


def test_a_run_that_worked_is_recorded_though_another_writer_holds_the_database(own_db):
    held = threading.Event()

    def hold_the_write_lock():
        # Longer than busy_timeout (5 s): the first write of the outcome fails.
        with closing(sqlite3.connect(own_db.data_dir / 'clinic.db', isolation_level=None)) as other:
            other.execute('BEGIN IMMEDIATE')
            held.set()
            time.sleep(6.5)
            other.execute('COMMIT')

    def work():
        holder.start()
        held.wait(5)
        return {'sent': 3}

    holder = threading.Thread(target=hold_the_write_lock)
    try:
        assert schedule.run_slot('daily_reminders', '2031-01-07', work) == {'sent': 3}
    finally:
        holder.join()
    run = slot('daily_reminders', '2031-01-07')
    assert run.status == 'success' and run.detail == {'sent': 3}
    # Done, the slot is not run again by a second consumer.
    assert 'skipped' in schedule.run_slot('daily_reminders', '2031-01-07', lambda: 1 / 0)


CONSUMERS = 5


def ledger(db_path):
    with closing(sqlite3.connect(db_path)) as conn:
        return conn.execute('SELECT job, slot, status, attempts FROM job_run ORDER BY job').fetchall()


def test_many_consumers_on_one_sqlite_database_run_each_slot_once_and_leave_none_running(
        tmp_path):
    # Every clinic-time job falls due at once: today's reminders and backup,
    # last month's reports; each consumer also runs the scheduler.
    env = base_env(tmp_path, REMINDER_TIME='00:00', BACKUP_TIME='00:00',
                   MONTHLY_REPORT_TIME='00:00', WORKERS='3', CLINIC_TZ='Etc/GMT+12')
    seeded = subprocess.run([sys.executable, str(ROOT / 'run.py'), 'demo-data',
                             '--appointments', '300', '--seed', '3'],
                            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    db_path = tmp_path / 'clinic.db'
    consumers = [WorkerProcess(env).start() for _ in range(CONSUMERS)]
    try:
        for consumer in consumers:
            consumer.wait_ready(timeout=60)
        wait_until(lambda: len(ledger(db_path)) == 3
                   and all(status != 'running' for _, _, status, _ in ledger(db_path)),
                   timeout=90, interval=0.5, message='three slots finished')
        rows = ledger(db_path)
        assert [(job, status, attempts) for job, _, status, attempts in rows] == [
            ('daily_reminders', 'success', 1), ('monthly_reports', 'success', 1),
            ('nightly_backup', 'success', 1)], rows
        for consumer in consumers:
            assert consumer.proc.poll() is None, consumer.output()[-3000:]
    finally:
        for consumer in consumers:
            consumer.stop()
    assert all(status != 'running' for _, _, status, _ in ledger(db_path))
