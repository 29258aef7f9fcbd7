"""Growth bench: how each operation's time grows with the appointment table.

Builds a demo database per size with `run.py demo-data` (50 doctors; 2,000
patients up to 100,000 appointments, 20,000 patients at 1,000,000), cached
under one temporary dir for the run, and times on each: the patient,
doctor, admin and status pages, the admin list's first page and a deep page
(offset 50,000, or the last 100 rows when the table is smaller), the
all-data export against `sqlite3 -csv` (bench/export_p1.py), last month's
reports (bench/monthly_reports_p3.py) and today's reminders against plain
smtplib (bench/reminders_p2.py). Each figure is the median of --runs runs;
the table gives the factor per 10x between neighbouring sizes (1.0: flat,
10: linear). The demo-data build itself is the first row, with its peak RSS.

    python bench/growth.py [--sizes 10000,100000,1000000] [--runs N]
"""
import argparse
import datetime
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import export_p1  # noqa: E402
import harness  # noqa: E402
import monthly_reports_p3  # noqa: E402
import reminders_p2  # noqa: E402
from huey.storage import MemoryStorage  # noqa: E402

from app.db import database, init_database  # noqa: E402
from app.models import MonthlyReport, OutboxMessage  # noqa: E402
from app.queue import configure_queue, huey  # noqa: E402
from app.services import reminders  # noqa: E402
from app.settings import load  # noqa: E402
from tests.client import Client  # noqa: E402

ADMIN = ('bench-admin@example.test', 'bench-pass-123')
DEMO_PASSWORD = 'demo-pass-123'
# The clinic's clock reads 04:xx: all of today's visits are still ahead for the reminders.
CLINIC_TZ = reminders_p2.zone_in_the_early_morning()
DEEP_OFFSET = 50_000


def shape(size):
    return {'doctors': 50, 'patients': 20_000 if size >= 1_000_000 else 2_000}


def base_env(data_dir):
    env = {**os.environ, 'CLINIC_DATA_DIR': str(data_dir), 'CLINIC_TZ': CLINIC_TZ,
           'ADMIN_EMAIL': ADMIN[0], 'ADMIN_PASSWORD': ADMIN[1],
           'SECRET_KEY': 'bench-secret-key-0123456789'}
    for name in ('DATABASE_URL', 'REDIS_URL', 'SMTP_HOST'):
        env.pop(name, None)
    return env


def build(cache_dir, size):
    """A demo data dir of `size` appointments; its build time and peak RSS."""
    data_dir = cache_dir / str(size)
    data_dir.mkdir()
    return (data_dir, *harness.run_demo_data(base_env(data_dir), size, **shape(size)))


def median_time(action, runs):
    action()  # warm: the first call pays for caches and imports
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fetch(client, path):
    def get():
        response = client.get(path)
        assert response.status == 200, (path, response.status)
    return get


def web_figures(data_dir, size, runs):
    port = harness.free_port()
    os.environ['CLINIC_TZ'] = CLINIC_TZ  # run_py passes this process's environment on
    web = harness.run_py(data_dir, port, 'web')
    try:
        url = f'http://127.0.0.1:{port}'
        harness.wait_for_health(url)
        patient = Client(url).login('patient1@demo.clinic', DEMO_PASSWORD)
        doctor = Client(url).login('doctor1@demo.clinic', DEMO_PASSWORD)
        admin = Client(url).login(*ADMIN)
        deep = min(DEEP_OFFSET, max(0, size - 100))
        pages = {'patient page /patient': (patient, '/patient'),
                 'doctor page /doctor': (doctor, '/doctor'),
                 'admin page /admin': (admin, '/admin'),
                 'status page /admin/status': (admin, '/admin/status'),
                 'admin list first page (limit=100)': (admin, '/api/appointments?limit=100'),
                 f'admin list deep page (offset={DEEP_OFFSET})':
                     (admin, f'/api/appointments?limit=100&offset={deep}')}
        return {name: median_time(fetch(client, path), runs)
                for name, (client, path) in pages.items()}
    finally:
        web.terminate()
        web.wait(30)


def export_figures(settings, runs):
    ours, shell = [], []
    for _ in range(runs):  # interleaved, as P1 measures
        shell.append(export_p1.time_sqlite_shell(settings)[0])
        ours.append(export_p1.time_service(settings)[0])
    ours, shell = statistics.median(ours), statistics.median(shell)
    return {'export (all data)': ours, 'sqlite3 -csv (same join)': shell,
            'export / sqlite3 -csv (ratio)': ours / shell}


def report_figures(settings, runs):
    huey.storage = MemoryStorage('bench')  # the delivery request only needs somewhere to go
    first_of_month = datetime.date.today().replace(day=1)
    month = (first_of_month - datetime.timedelta(days=1)).strftime('%Y-%m')

    def build_month():
        with database.atomic():  # a run again finds no reports: it builds them all
            MonthlyReport.delete().where(MonthlyReport.month == month).execute()
            OutboxMessage.delete().where(OutboxMessage.dedupe_key.startswith('monthly:')).execute()
        monthly_reports_p3.run(settings, month)
    with database.connection_context():
        return {f'monthly reports ({month})': median_time(build_month, runs)}


def reminder_figures(data_dir, runs):
    sink, port, count = reminders_p2.start_sink()
    env = {**base_env(data_dir), 'SMTP_HOST': '127.0.0.1', 'SMTP_PORT': str(port),
           'WORKERS': '2'}
    settings = load(env)
    configure_queue(settings)
    day = datetime.datetime.now(settings.tz).date()
    with database.connection_context():
        expected = len(reminders.sort_out(reminders.recipients(day, settings.tz),
                                          datetime.datetime.now(settings.tz))[0])
    consumer = reminders_p2.Consumer(env, settings)
    try:
        ours, plain = [], []
        for _ in range(runs):
            ours.append(reminders_p2.run_job(day, count, expected))
            plain.append(reminders_p2.plain_smtplib(port, reminders_p2.ready_made(settings),
                                                    count))
    finally:
        consumer.stop()
        sink.terminate()
    ours, plain = statistics.median(ours), statistics.median(plain)
    return {"reminder mails today (count)": expected, "today's reminders": ours,
            'plain smtplib (same mails)': plain, 'reminders / smtplib (ratio)': ours / plain}


def measure(cache_dir, size, runs):
    data_dir, seconds, peak_mb = build(cache_dir, size)
    print(f'{size:,}: demo-data {seconds:.1f} s, peak RSS {peak_mb:.0f} MB', flush=True)
    figures = {'demo-data (build)': seconds, 'demo-data peak RSS (MB)': peak_mb}
    figures.update(web_figures(data_dir, size, runs))
    settings = load(base_env(data_dir))
    init_database(settings.database_url)
    figures.update(export_figures(settings, runs))
    figures.update(report_figures(settings, runs))
    figures.update(reminder_figures(data_dir, runs))
    database.close()
    for name, value in figures.items():
        print(f'  {name}: {show(name, value)}', flush=True)
    return figures


def show(name, value):
    if '(ratio)' in name:
        return f'{value:.2f}x'
    if '(count)' in name:
        return f'{value:,}'
    if '(MB)' in name:
        return f'{value:.0f} MB'
    return f'{value * 1000:.1f} ms' if value < 1 else f'{value:.2f} s'


def per_ten_times(sizes, values):
    """The growth factor per 10x appointments between neighbouring sizes."""
    factors = []
    for (small, a), (big, b) in zip(zip(sizes, values), zip(sizes[1:], values[1:])):
        factors.append(f'{(b / a) ** (1 / math.log10(big / small)):.1f}' if a > 0 else '-')
    return ' / '.join(factors)


def table(sizes, results):
    print(f'\n| operation | {" | ".join(f"{size:,}" for size in sizes)} | factor per 10x |')
    print(f'|---|{"---|" * len(sizes)}---|')
    # The report row names its month: match rows by order.
    for row, name in enumerate(results[0]):
        values = [list(figures.values())[row] for figures in results]
        print(f'| {name} | {" | ".join(show(name, v) for v in values)} | '
              f'{per_ten_times(sizes, values)} |')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='10000,100000,1000000',
                        help='appointment counts, comma-separated')
    parser.add_argument('--runs', type=int, default=3, help='runs per figure; medians count')
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(','))
    if not shutil.which('sqlite3'):
        raise SystemExit('sqlite3 (the shell) is not installed')
    cache_dir = Path(tempfile.mkdtemp(prefix='growth-bench-'))
    try:
        results = [measure(cache_dir, size, args.runs) for size in sizes]
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    table(sizes, results)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f'\nbench process peak RSS {usage.ru_maxrss / 1024:.0f} MB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
