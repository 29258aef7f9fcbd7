"""P7: `python run.py` to /healthz 200 (bar ≤ 3 s) and P6: idle memory of
the whole process group (bar ≤ 120 MB RSS). Medians of several starts.

    python bench/startup_memory.py [--runs 5] [--idle 5]
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def healthy(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def rss_kb(pid):
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def group_pids(root_pid):
    out = subprocess.run(['ps', '-o', 'pid=', '--ppid', str(root_pid)],
                         capture_output=True, text=True).stdout
    return [root_pid] + [int(p) for p in out.split()]


def one_run(idle_seconds):
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = {**os.environ, 'CLINIC_DATA_DIR': data_dir, 'PORT': str(port)}
        url = f'http://127.0.0.1:{port}/healthz'
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py')], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not healthy(url):
                if time.monotonic() - started > 30:
                    raise SystemExit('app did not become healthy in 30 s')
                time.sleep(0.02)
            to_healthy = time.monotonic() - started
            time.sleep(idle_seconds)
            rss = sum(rss_kb(pid) for pid in group_pids(proc.pid)) / 1024
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        return to_healthy, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--idle', type=float, default=5.0)
    args = parser.parse_args()
    results = [one_run(args.idle) for _ in range(args.runs)]
    start = statistics.median(r[0] for r in results)
    rss = statistics.median(r[1] for r in results)
    print(f'P7 start to healthy: median {start:.2f} s over {args.runs} runs '
          f'(min {min(r[0] for r in results):.2f}, max {max(r[0] for r in results):.2f}); '
          f'bar 3 s; ratio {start / 3:.2f}')
    print(f'P6 idle RSS of supervisor + web + worker: median {rss:.0f} MB; '
          f'bar 120 MB; ratio {rss / 120:.2f}')


if __name__ == '__main__':
    main()
