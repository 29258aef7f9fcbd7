"""SPEC §11 bar: the minute-by-minute hours_before reminder pass over
100,000 appointments in <= 50 ms when nothing is due.

Demo data (50 doctors, 2,000 patients, 100,000 appointments) in a temporary
SQLite database; REMINDER_HOURS_BEFORE=2 and a clock at 10:00 on the next
weekday. One pass queues what is due and records every visit in the window;
then the same pass runs again and again with nothing left to do: the median
and p95 of those, the queries one pass makes and SQLite's plan for each (a
lost index shows up as a SCAN).

    python bench/reminders_hours_before.py [--runs N]
"""
import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sql_log import sqlite_plan, statements  # noqa: E402

BAR_MS = 50.0
SIZE = {'doctors': 50, 'patients': 2000, 'appointments': 100_000}


def busy_morning(tz):
    """10:00 clinic time on the next weekday."""
    day = datetime.datetime.now(tz).date() + datetime.timedelta(days=1)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time(10, 0), tzinfo=tz)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=50)
    args = parser.parse_args()

    from app.clock import Clock, fixed_clock
    from app.db import database, init_database
    from app.migrations import apply_migrations
    from app.services import reminders
    from app.services.demo_data import generate
    from app.settings import load

    with tempfile.TemporaryDirectory() as data_dir:
        settings = load({'CLINIC_DATA_DIR': data_dir, 'REMINDER_HOURS_BEFORE': '2'})
        init_database(settings.database_url)
        apply_migrations()
        with database.connection_context():
            generate(Clock(settings.tz), **SIZE)
            clock = fixed_clock(settings.tz, busy_morning(settings.tz))
            first = reminders.send_hours_before(settings, clock)
            print(f'first pass at {clock.now():%a %H:%M}: {first}')

            with statements() as seen:
                reminders.send_hours_before(settings, clock)
            for sql, params in seen:
                print('query:', sql[:160], '...')
                for step in sqlite_plan(database, sql, params):
                    print('  plan:', step)

            timings = []
            for _ in range(args.runs):
                started = time.perf_counter()
                result = reminders.send_hours_before(settings, clock)
                timings.append((time.perf_counter() - started) * 1000)
                assert result['queued'] == 0 and result['skipped'] == 0, result
    median = statistics.median(timings)
    p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
    print(f'hours_before pass, 100,000 appointments, nothing due: median {median:.1f} ms, '
          f'p95 {p95:.1f} ms (bar {BAR_MS:.0f} ms, ratio {median / BAR_MS:.2f})')


if __name__ == '__main__':
    main()
