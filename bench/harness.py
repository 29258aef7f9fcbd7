"""What the HTTP benches share: a free port, `python run.py ...` started on
a data dir of its own (embedded SQLite, no Redis, mail kept in the outbox),
and waiting until it answers."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.client import Client  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_py(data_dir, port, *args):
    """`python run.py *args` on `data_dir`, its output in <data_dir>/<command>.log."""
    env = {**os.environ, 'CLINIC_DATA_DIR': str(data_dir), 'PORT': str(port)}
    for name in ('DATABASE_URL', 'REDIS_URL', 'SMTP_HOST'):
        env.pop(name, None)
    log = open(Path(data_dir) / f'{args[0]}.log', 'ab')
    return subprocess.Popen([sys.executable, str(ROOT / 'run.py'), *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_for_health(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Client(url).get('/healthz').status:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit('timed out waiting for the web server')


def run_demo_data(env, appointments, doctors, patients):
    """`python run.py demo-data` with `env`; its wall time and peak RSS (MB)."""
    data_dir = Path(env['CLINIC_DATA_DIR'])
    started = time.perf_counter()
    with open(data_dir / 'demo-data.log', 'ab') as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py'), 'demo-data',
                                 f'--appointments={appointments}', f'--doctors={doctors}',
                                 f'--patients={patients}'],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not all children's
    if os.waitstatus_to_exitcode(status):
        raise SystemExit((data_dir / 'demo-data.log').read_text()[-2000:])
    return time.perf_counter() - started, usage.ru_maxrss / 1024
