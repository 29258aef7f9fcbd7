"""Scale-out safety: two workers on one Redis and one database, both running
the periodic scheduler by mistake, still send each reminder exactly once."""
import collections
import datetime
import os
import sqlite3
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT, WorkerProcess, base_env, smtp_sink, wait_until
from tests.test_reminders import zone_in_the_early_morning


@pytest.fixture
def own_smtp():
    with smtp_sink() as sink:
        yield sink


def expected_reminder_recipients(db_path, today):
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("""
            SELECT DISTINCT u.email FROM appointment a JOIN user u ON u.id = a.patient_id
            WHERE a.status = 'booked' AND a.date = ? AND u.reminders_enabled = 1
        """, (today,)).fetchall()
    return {email for (email,) in rows}


def reminder_outbox(db_path):
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM outbox_message "
                            "WHERE dedupe_key LIKE 'reminder:%' GROUP BY status").fetchall()
    return dict(rows)


def test_two_periodic_workers_on_one_redis_send_each_reminder_once(tmp_path, redis_server,
                                                                   own_smtp):
    # Early morning in the clinic: the reminder job leaves out visits that
    # have started, and today's (08:00 on) are all still ahead.
    zone = zone_in_the_early_morning()
    today = datetime.datetime.now(ZoneInfo(zone)).date().isoformat()
    env = base_env(tmp_path, own_smtp.port, REDIS_URL=redis_server.url,
                   REMINDER_TIME='00:00', WORKERS='2', CLINIC_TZ=zone)
    seeded = subprocess.run([sys.executable, str(ROOT / 'run.py'), 'demo-data',
                             '--appointments', '600', '--seed', '7'],
                            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    expected = expected_reminder_recipients(tmp_path / 'clinic.db', today)
    assert len(expected) >= 3, 'demo data has reminders to send today'

    workers = [WorkerProcess(env).start() for _ in range(2)]
    try:
        for worker in workers:
            worker.wait_ready()
        # Once every reminder in the outbox is marked sent, no delivery can
        # send one again: what the sink holds then is final.
        wait_until(lambda: reminder_outbox(tmp_path / 'clinic.db') == {'sent': len(expected)},
                   60, message='every reminder sent')
    finally:
        for worker in workers:
            worker.stop()

    # Doctors get last month's report too (its catch-up); count the patients.
    per_recipient = collections.Counter(to for m in own_smtp.messages for to in m['to']
                                        if to.startswith('patient'))
    assert set(per_recipient) == expected
    assert set(per_recipient.values()) == {1}, per_recipient
    with sqlite3.connect(tmp_path / 'clinic.db') as conn:
        ledger = conn.execute("SELECT status FROM job_run WHERE job = 'daily_reminders' "
                              "AND slot = ?", (today,)).fetchall()
    assert ledger == [('success',)]
