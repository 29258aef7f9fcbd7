"""Web memory and page times on a large clinic: the web process's RSS after
200 mixed page views stays within 30 MB of its idle RSS, and the admin pages
stay flat at a million appointments (GET /admin ≤ 60 ms, the admin list
GET /api/appointments?limit=100 ≤ 30 ms, a page far down it ≤ 60 ms).

Copies a demo database (built once by `run.py demo-data` and kept, see
bench/harness.py) into a temporary data dir, starts `run.py web` on it, signs
in an admin, a doctor, a patient and a receptionist, and cycles through their
pages. Times are medians per page over the run (the machine is shared).

    python bench/web_memory.py [--appointments 1000000] [--views 200]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    copy_data_dir, demo_data_dir, free_port, run_py, wait_for_health)
from tests.client import Client  # noqa: E402

GROWTH_BAR_MB = 30
ADMIN, PASSWORD = 'bench-admin@example.test', 'bench-admin-pass-1'
DEMO_PASSWORD = 'demo-pass-123'
# (page, who views it, its bar in ms or None): the admin pages carry the bars.
PAGES = [
    ('/admin', 'admin', 60),
    ('/api/appointments?limit=100', 'admin', 30),
    ('/api/appointments?limit=100&offset=50000', 'admin', 60),
    ('/admin?status=completed', 'admin', None),
    ('/doctor', 'doctor', None),
    ('/patient', 'patient', None),
    ('/reception', 'reception', None),
    ('/admin/status', 'admin', None),
    ('/api/appointments?limit=100&order=desc&offset=200000', 'admin', None),
]


def rss_mb(pid):
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    raise KeyError('VmRSS')


def sign_in(url):
    return {'admin': Client(url).login(ADMIN, PASSWORD),
            'doctor': Client(url).login('doctor1@demo.clinic', DEMO_PASSWORD),
            'patient': Client(url).login('patient1@demo.clinic', DEMO_PASSWORD),
            'reception': Client(url).login('reception1@demo.clinic', DEMO_PASSWORD)}


def browse(url, pid, views):
    """(idle RSS, RSS after, {page: [ms]})."""
    clients = sign_in(url)
    time.sleep(1)
    idle = rss_mb(pid)
    times = {page: [] for page, _, _ in PAGES}
    for n in range(views):
        page, who, _ = PAGES[n % len(PAGES)]
        started = time.perf_counter()
        resp = clients[who].get(page)
        times[page].append((time.perf_counter() - started) * 1000)
        if resp.status != 200:
            raise SystemExit(f'{page} as {who}: {resp.status}')
    return idle, rss_mb(pid), times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--appointments', type=int, default=1_000_000)
    parser.add_argument('--views', type=int, default=200)
    args = parser.parse_args()
    data_dir = copy_data_dir(demo_data_dir(args.appointments))
    web = None
    try:
        env = {**os.environ, 'CLINIC_DATA_DIR': str(data_dir), 'ADMIN_PASSWORD': PASSWORD}
        subprocess.run([sys.executable, str(ROOT / 'run.py'), 'create-admin', ADMIN], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        port = free_port()
        web = run_py(data_dir, port, 'web')
        url = f'http://127.0.0.1:{port}'
        wait_for_health(url)
        idle, after, times = browse(url, web.pid, args.views)
        at = f'at {args.appointments:,} appointments'
        ok = True
        for page, who, bar in PAGES:
            median = statistics.median(times[page])
            if bar is None:
                print(f'{page} as {who} {at}: median {median:.0f} ms')
                continue
            ok &= median <= bar
            print(f'{page} as {who} {at}: median {median:.0f} ms of {len(times[page])}; '
                  f'bar <= {bar} ms; ratio {median / bar:.2f}')
        growth = after - idle
        ok &= growth <= GROWTH_BAR_MB
        print(f'web RSS {at}: {idle:.0f} MB idle, {after:.0f} MB after {args.views} mixed page '
              f'views: growth {growth:.0f} MB; bar <= {GROWTH_BAR_MB} MB; '
              f'ratio {growth / GROWTH_BAR_MB:.2f}')
        print('web memory', 'PASS' if ok else 'FAIL', f'(load average {os.getloadavg()[0]:.1f} '
              f'on {os.cpu_count()} cores)')
        return 0 if ok else 1
    finally:
        if web is not None:
            web.terminate()
            web.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
