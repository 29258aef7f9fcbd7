"""Scheduled reports (SPEC §4, issue bar): a 100,000-row report in each format
(CSV, XLSX, PDF) finishes, with flat memory for CSV and XLSX.

Fills a fresh SQLite database in a temporary data dir with demo data, then
runs the real task body (report_runs.run_execution: rows → file → outbox)
for an `appointments` report whose period holds 100,000 rows, once per
format, each in a fresh child process. A child reports its time and its
peak RSS (VmHWM) minus its RSS just before the run, after one read of the
rows has filled SQLite's page cache (bounded by cache_size, the same for
any report). The same is measured for a 10,000-row period: memory is flat
when the 100k growth is about the 10k growth, not ten times it. The run
includes queueing the mail: a file up to 5 MB is read once to be attached,
so a format whose 100k file is under that limit shows it.

    python bench/reports_100k.py [--appointments N] [--small N] [--runs N]
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = ('csv', 'xlsx', 'pdf')
FLAT = ('csv', 'xlsx')
# "Flat": the big run may use this much more than the small one.
FLAT_BAR_MB = 20.0


def rss_mb(field):
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    return 0.0


def setup(data_dir):
    from app.boot import boot
    from app.settings import load
    return boot(load({'CLINIC_DATA_DIR': data_dir}))


def fill(data_dir, appointments):
    from app.clock import Clock
    from app.db import database
    from app.services.demo_data import generate
    settings = setup(data_dir)
    started = time.perf_counter()
    with database.connection_context():
        generate(Clock(settings.tz), doctors=50, patients=2000, appointments=appointments)
    print(f'demo data: {appointments:,} appointments in {time.perf_counter() - started:.1f} s',
          flush=True)


def period_with(rows):
    """(first, last) dates of a period holding about `rows` appointments."""
    from app.db import database
    from app.models import Appointment
    with database.connection_context():
        dates = (Appointment.select(Appointment.date)
                 .order_by(Appointment.date)
                 .tuples())
        first = dates.limit(1).scalar()
        last = dates.offset(rows - 1).limit(1).scalar() or dates.order_by(
            Appointment.date.desc()).limit(1).scalar()
    return first, last


def child(data_dir, fmt, rows):
    """One run in this (fresh) process; prints a JSON line of figures."""
    settings = setup(data_dir)
    import fpdf  # noqa: F401  (libraries loaded before the baseline, as in a warm worker)
    import xlsxwriter  # noqa: F401

    import tasks  # noqa: F401
    from app.clock import Clock
    from app.db import database
    from app.models import ReportExecution, ScheduledReport
    from app.services import report_engine, report_runs

    start, end = period_with(rows)
    with database.connection_context():
        report = ScheduledReport.create(
            name=f'Bench {fmt} {rows}', kind='appointments', frequency='daily', time='07:00',
            format=fmt, recipients=['owner@example.test'], active=False)
        execution = ReportExecution.create(
            report=report, triggered_by='manual', task_id=f'bench-{fmt}-{rows}-{time.time()}',
            period_start=start, period_end=end)
        # Fill SQLite's page cache (capped at 16 MB by cache_size) first:
        # it is the same for any report, and would hide what the run holds.
        for _ in report_engine.build('appointments', start, end).rows:
            pass
        before = rss_mb('VmRSS')
        started = time.perf_counter()
        result = report_runs.run_execution(settings, Clock(settings.tz), execution.id)
        elapsed = time.perf_counter() - started
        peak = rss_mb('VmHWM')
    print(json.dumps({'format': fmt, 'rows': result['rows'], 'seconds': elapsed,
                      'growth_mb': peak - before, 'bytes': result['file_size']}), flush=True)


def run_child(data_dir, fmt, rows):
    out = subprocess.run([sys.executable, __file__, '--child', data_dir, fmt, str(rows)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--appointments', type=int, default=100_000)
    parser.add_argument('--small', type=int, default=10_000)
    parser.add_argument('--runs', type=int, default=1, help='runs per format (median)')
    parser.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix='reports-bench-') as data_dir:
        fill(data_dir, args.appointments)
        ok = True
        print(f'{"format":<6} {"rows":>8} {"time":>8} {"rows/s":>9} {"file":>9} '
              f'{"RSS +MB":>8} {"RSS +MB @" + str(args.small // 1000) + "k":>11} {"flat?":>6}')
        for fmt in FORMATS:
            big = [run_child(data_dir, fmt, args.appointments) for _ in range(args.runs)]
            small = run_child(data_dir, fmt, args.small)
            seconds = statistics.median(run['seconds'] for run in big)
            growth = statistics.median(run['growth_mb'] for run in big)
            flat = growth - small['growth_mb'] < FLAT_BAR_MB
            if fmt in FLAT:
                ok = ok and flat
            print(f'{fmt:<6} {big[0]["rows"]:>8,} {seconds:>7.2f}s {big[0]["rows"] / seconds:>9,.0f} '
                  f'{big[0]["bytes"] / 1e6:>7.1f}MB {growth:>8.1f} {small["growth_mb"]:>11.1f} '
                  f'{"yes" if flat else "no":>6}  '
                  f'(bar: {"finishes with flat memory" if fmt in FLAT else "finishes"})', flush=True)
        print(f'bar: every format finishes; CSV and XLSX flat (100k growth - '
              f'{args.small // 1000}k growth < {FLAT_BAR_MB:.0f} MB): {"met" if ok else "NOT met"}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
