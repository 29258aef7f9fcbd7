"""run.py as an operator uses it: start-up checks, the supervisor, stopping."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, base_env, free_port, require_binary, wait_until
from tests.processes import ProcessTree, child_commands, child_pids


def run_py(env, *args, **kw):
    return subprocess.run([sys.executable, str(ROOT / 'run.py'), *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60, **kw)


@pytest.mark.parametrize('variable,value', [
    ('CLINIC_TZ', 'Mars/Olympus_Mons'),
    ('REMINDER_TIME', '25:00'),
    ('MONTHLY_REPORT_TIME', '7am'),
    ('DATABASE_URL', 'ftp://nowhere'),
    ('REDIS_URL', 'http://localhost'),
    ('PORT', 'eighty'),
    ('SMTP_SECURITY', 'tls-please'),
])
def test_bad_configuration_stops_start_up_with_one_line_naming_the_variable(tmp_path, variable,
                                                                             value):
    env = base_env(tmp_path, **{variable: value})
    started = time.monotonic()
    result = run_py(env)
    assert time.monotonic() - started < 10
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr
    assert not (tmp_path / 'clinic.db').exists()


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except OSError:
        return None, None


def start_supervisor(env, *args):
    return subprocess.Popen([sys.executable, str(ROOT / 'run.py'), *args], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def supervisor(tmp_path):
    env = base_env(tmp_path)
    proc = start_supervisor(env)
    tree = ProcessTree(proc)
    url = f"http://127.0.0.1:{env['PORT']}/healthz"
    try:
        yield proc, url, tmp_path, tree
    finally:
        tree.kill()


def heartbeat_of(data_dir, pid):
    with sqlite3.connect(data_dir / 'clinic.db') as conn:
        return conn.execute('SELECT 1 FROM worker_heartbeat WHERE worker LIKE ?',
                            (f'%:{pid}',)).fetchone()


def test_supervisor_becomes_healthy_restarts_a_dead_child_and_stops_with_exit_0(supervisor):
    proc, url, data_dir, tree = supervisor
    wait_until(lambda: get_json(url)[0] == 200, 20, message='healthy app')
    children = child_pids(proc.pid)
    tree.descendants()
    assert set(children) == {'web', 'worker'}, children
    os.kill(children['worker'], signal.SIGKILL)
    new_pid = wait_until(lambda: child_pids(proc.pid).get('worker') not in (None, children['worker'])
                         and child_pids(proc.pid)['worker'], 20, message='worker restarted')
    wait_until(lambda: heartbeat_of(data_dir, new_pid), 20, message='new worker beating')
    tree.descendants()
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, output
    assert tree.alive() == [], 'a child outlived the supervisor'
    assert 'worker exited with code -9; restarting' in output
    assert 'Shutting down gracefully' in output
    assert output.rstrip().endswith('stopped')


def test_health_says_worker_down_when_no_consumer_runs(tmp_path):
    env = base_env(tmp_path)
    proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py'), 'web'], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{env['PORT']}/healthz"
        status, body = wait_until(lambda: _http_status(url), 20, message='web up')
        assert status == 503
        assert body == {'status': 'down', 'database': 'ok', 'queue': 'ok', 'worker': 'down'}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        ProcessTree(proc).kill()


def _http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    except OSError:
        return None


def test_create_admin_reads_the_password_from_the_environment(tmp_path):
    env = base_env(tmp_path, ADMIN_PASSWORD='a-long-admin-password')
    result = run_py(env, 'create-admin', 'Boss@Clinic.Example')
    assert result.returncode == 0 and 'created admin boss@clinic.example' in result.stdout
    again = run_py(env, 'create-admin', 'boss@clinic.example')
    assert again.returncode == 0 and 'reset admin' in again.stdout
    short = run_py({**env, 'ADMIN_PASSWORD': 'short'}, 'create-admin', 'x@clinic.example')
    assert short.returncode == 2 and 'password' in short.stderr


@pytest.mark.parametrize('with_redis', [False, True], ids=['sqlite-queue', 'with-redis'])
def test_children_die_when_the_supervisor_is_killed(tmp_path, with_redis):
    extra = {}
    if with_redis:
        require_binary('redis-server')
        extra['REDIS_URL'] = f'redis://127.0.0.1:{free_port()}/0'
    env = base_env(tmp_path, **extra)
    proc = start_supervisor(env, *(['--with-redis'] if with_redis else []))
    tree = ProcessTree(proc)
    try:
        url = f"http://127.0.0.1:{env['PORT']}/healthz"
        wait_until(lambda: get_json(url)[0] == 200, 30, message='healthy app')
        commands = child_commands(proc.pid)
        assert len(tree.descendants()) == (3 if with_redis else 2), commands
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        wait_until(lambda: tree.alive() == [], 8, message='no child outlives the supervisor')
        assert get_json(url) == (None, None)
    finally:
        tree.kill()


def test_a_second_supervisor_on_the_same_data_dir_refuses_to_start(supervisor):
    proc, url, data_dir, tree = supervisor
    wait_until(lambda: get_json(url)[0] == 200, 20, message='healthy app')
    lock = data_dir / 'supervisor.lock'
    assert lock.stat().st_mode & 0o777 == 0o600
    env = base_env(data_dir)
    second = run_py(env)
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and 'another supervisor' in lines[0], second.stderr
    assert str(proc.pid) in lines[0]
    assert get_json(f"http://127.0.0.1:{env['PORT']}/healthz") == (None, None)
    assert proc.poll() is None

    tree.descendants()
    os.kill(proc.pid, signal.SIGKILL)  # its lock goes with it
    proc.wait(10)
    wait_until(lambda: tree.alive() == [], 8, message='the first group gone')
    third = start_supervisor(env)
    third_tree = ProcessTree(third)
    try:
        wait_until(lambda: get_json(f"http://127.0.0.1:{env['PORT']}/healthz")[0] == 200, 30,
                   message='a new supervisor after the first died')
        assert set(child_pids(third.pid)) == {'web', 'worker'}
    finally:
        third_tree.kill()


def test_the_supervisor_loop_and_the_web_load_only_what_they_use(supervisor):
    """After checking the settings the supervisor goes on as a fresh
    interpreter with the same pid (its lock and children stay its own), and
    the web, which serves plain HTTP, never maps libssl (SPEC §7 P6)."""
    proc, url, data_dir, tree = supervisor
    wait_until(lambda: get_json(url)[0] == 200, 20, message='healthy app')
    cmdline = Path(f'/proc/{proc.pid}/cmdline').read_bytes().split(b'\0')
    assert b'--supervise-checked' in cmdline
    supervisor_maps = Path(f'/proc/{proc.pid}/maps').read_text()
    web_maps = Path(f"/proc/{child_pids(proc.pid)['web']}/maps").read_text()
    assert 'libssl' not in web_maps and 'libssl' not in supervisor_maps
    # What reading the settings loads (zones, Unicode tables) is gone with the exec.
    assert '_zoneinfo' not in supervisor_maps and 'unicodedata' not in supervisor_maps
