"""What the HTTP benches share: a free port, `python run.py ...` started on
a data dir of its own (embedded SQLite, no Redis, mail kept in the outbox),
and waiting until it answers."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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


def demo_data_dir(appointments, doctors=50, patients=2000):
    """A data dir holding `run.py demo-data` at this size, built once and kept
    under the temp dir (a million appointments takes minutes to build); the
    migrations are part of its name, so a schema change rebuilds it.
    Callers copy it (copy_data_dir) rather than change it."""
    migrations = sorted(p.stem for p in (ROOT / 'app' / 'migrations').glob('0*.py'))
    name = (f'clinicdesk-bench-{appointments}-{doctors}-{patients}'
            f'-{len(migrations)}-{migrations[-1]}')
    cached = Path(tempfile.gettempdir()) / name
    if (cached / 'ready').exists():
        return cached
    building = Path(tempfile.mkdtemp(prefix=name + '-'))
    env = {**os.environ, 'CLINIC_DATA_DIR': str(building)}
    for variable in ('DATABASE_URL', 'REDIS_URL', 'SMTP_HOST'):
        env.pop(variable, None)
    seconds, _ = run_demo_data(env, appointments, doctors, patients)
    (building / 'ready').write_text(f'{seconds:.1f}\n')
    try:
        building.rename(cached)
    except OSError:  # another bench built it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    print(f'demo data: {appointments:,} appointments built in {seconds:.0f} s, kept in {cached}',
          flush=True)
    return cached


def copy_data_dir(source):
    """A throwaway copy of a data dir (the caller removes it)."""
    target = Path(tempfile.mkdtemp(prefix='clinicdesk-bench-'))
    shutil.copytree(source, target, dirs_exist_ok=True)
    (target / 'ready').unlink(missing_ok=True)
    return target
