"""The one-container shape: the Dockerfile lints clean and carries what the
app needs, and `run.py --with-redis` runs redis-server inside the group."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, base_env, free_port, require_binary, wait_until
from tests.processes import ProcessTree, child_commands, child_pids
from tests.test_process import _http_status

DOCKERFILE = (ROOT / 'Dockerfile').read_text()


def test_dockerfile_passes_hadolint():
    hadolint = require_binary('hadolint')
    result = subprocess.run([hadolint, '--no-color', 'Dockerfile'], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_non_root_with_data_volume_healthcheck_and_embedded_redis():
    # The base is an argument (a locally made one where registries are out
    # of reach), the official slim image by default.
    assert re.search(r'^ARG BASE=python:3\.11-slim-bookworm$', DOCKERFILE, re.M)
    assert re.findall(r'^FROM .*$', DOCKERFILE, re.M) == ['FROM ${BASE}']
    # pip's index and CA come in as build secrets, never as files in the image.
    assert '--mount=type=secret,id=pip.conf' in DOCKERFILE
    assert re.search(r'^USER 10001$', DOCKERFILE, re.M)
    assert 'VOLUME ["/data"]' in DOCKERFILE and 'CLINIC_DATA_DIR=/data' in DOCKERFILE
    assert 'HEALTHCHECK' in DOCKERFILE and '/healthz' in DOCKERFILE
    assert 'CMD ["python", "run.py", "--with-redis"]' in DOCKERFILE
    copied = set(re.findall(r'^COPY (?:--\S+ )*(.+) \S+$', DOCKERFILE, re.M))
    shipped = {name for line in copied for name in line.split()}
    imported_top_level = {'run.py', 'tasks.py', 'app', 'templates', 'static', 'requirements.txt'}
    assert imported_top_level <= shipped, imported_top_level - shipped


def test_supervisor_with_redis_starts_a_persistent_local_redis(tmp_path):
    require_binary('redis-server')
    redis_port = free_port()
    env = base_env(tmp_path, REDIS_URL=f'redis://127.0.0.1:{redis_port}/0')
    proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py'), '--with-redis'], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    tree = ProcessTree(proc)
    try:
        url = f"http://127.0.0.1:{env['PORT']}/healthz"
        wait_until(lambda: (_http_status(url) or (None,))[0] == 200, 30, message='healthy')
        tree.descendants()
        assert {'web', 'worker'} <= set(child_pids(proc.pid))
        children = ' | '.join(child_commands(proc.pid))
        assert f'redis-server 127.0.0.1:{redis_port}' in children
        assert (Path(tmp_path) / 'redis').is_dir()
        assert list((Path(tmp_path) / 'redis').rglob('*.aof*')), 'AOF persistence is on'
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=40)
    finally:
        tree.kill()
    assert proc.returncode == 0, output
    assert 'started redis' in output
