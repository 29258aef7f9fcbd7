"""Issue 9 bar: backup of a 100,000-appointment database — its time and
archive size — and the app's request latency during a backup within 2x of
its latency without one.

Starts `python run.py` on a temp data dir filled with demo data, measures
the median latency of a patient's appointment list with no backup running,
then again while `python run.py backup` runs in a loop beside it.

    python bench/backup_100k.py [--appointments N] [--requests N]
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAR = 2.0


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_py(env, *args):
    return subprocess.run([sys.executable, str(ROOT / 'run.py'), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)


class Patient:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        body = json.dumps({'email': 'patient1@demo.clinic', 'password': 'demo-pass-123'})
        self.conn.request('POST', '/api/login', body, {'Content-Type': 'application/json'})
        resp = self.conn.getresponse()
        resp.read()
        self.cookie = resp.getheader('Set-Cookie').split(';')[0]

    def timed_get(self, path):
        started = time.perf_counter()
        self.conn.request('GET', path, headers={'Cookie': self.cookie})
        resp = self.conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
        return time.perf_counter() - started


def latencies(client, count):
    return [client.timed_get('/api/appointments?limit=50') for _ in range(count)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--appointments', type=int, default=100_000)
    parser.add_argument('--requests', type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='backup-bench-') as data_dir:
        port = free_port()
        env = {**os.environ, 'CLINIC_DATA_DIR': data_dir, 'PORT': str(port)}
        run_py(env, 'demo-data', '--doctors', '50', '--patients', '2000',
               '--appointments', str(args.appointments))
        app = subprocess.Popen([sys.executable, str(ROOT / 'run.py')], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client = Patient(port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            latencies(client, 50)  # warm up
            quiet = latencies(client, args.requests)

            backups, stop = [], threading.Event()

            def keep_backing_up():
                while not stop.is_set():
                    started = time.perf_counter()
                    out = run_py(env, 'backup', '--to', str(Path(data_dir) / 'bench-backups'))
                    archive = Path(out.stdout.strip().splitlines()[-1])
                    backups.append((time.perf_counter() - started, archive.stat().st_size))

            thread = threading.Thread(target=keep_backing_up)
            thread.start()
            time.sleep(0.2)
            busy = latencies(client, args.requests)
            stop.set()
            thread.join()
        finally:
            app.send_signal(signal.SIGTERM)
            app.wait(30)
    seconds = statistics.median(b[0] for b in backups)
    size_mb = statistics.median(b[1] for b in backups) / 1e6
    quiet_ms, busy_ms = statistics.median(quiet) * 1000, statistics.median(busy) * 1000
    ratio = busy_ms / quiet_ms
    print(f'backup of {args.appointments:,} appointments: {seconds:.2f} s median of '
          f'{len(backups)} (whole `run.py backup` command), archive {size_mb:.1f} MB')
    print(f'request latency during backups: median {busy_ms:.1f} ms vs {quiet_ms:.1f} ms without; '
          f'bar <= {BAR:.1f}x; ratio {ratio:.2f} -> {"PASS" if ratio <= BAR else "FAIL"}')
    return 0 if ratio <= BAR else 1


if __name__ == '__main__':
    sys.exit(main())
