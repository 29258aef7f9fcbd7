"""The real Dockerfile, built and run with podman on a locally made Debian
base (tests/container_build.py): healthy, nothing runs as root, Redis keeps
its AOF on the volume, and a patient, their session and a finished export
survive replacing the container; `podman stop` is clean and quick."""
import re
import subprocess
import time
import uuid

import pytest

from tests import container_build
from tests.client import Client
from tests.conftest import PASSWORD, free_port, require_binary, unique_email, wait_until
from tests.test_process import _http_status

STOP_LIMIT = 10


@pytest.fixture(scope='module')
def image():
    require_binary('podman')
    if not container_build.image_exists(container_build.BASE_TAG):
        require_binary('mmdebstrap')
    try:
        return container_build.build_image()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f'image build failed:\n{exc.stdout}\n{exc.stderr}')


@pytest.fixture
def volume():
    name = f'clinicdesk-test-{uuid.uuid4().hex[:12]}'
    yield name
    container_build.podman('volume', 'rm', '-f', name, check=False)


class Container:
    def __init__(self, image, volume):
        self.image, self.volume = image, volume
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.name = None

    def start(self):
        """Run a new container on the volume; seconds until /healthz is 200."""
        self.name = f'clinicdesk-test-{uuid.uuid4().hex[:12]}'
        started = time.monotonic()
        container_build.run_container(self.name, self.image, self.volume, self.port)
        wait_until(lambda: (_http_status(f'{self.url}/healthz') or (None,))[0] == 200, 60,
                   interval=0.1, message='container healthy')
        return time.monotonic() - started

    def stop(self):
        started = time.monotonic()
        result = container_build.podman('stop', '-t', str(STOP_LIMIT), self.name, check=False,
                                        timeout=60)
        return result.returncode, time.monotonic() - started

    def remove(self):
        if self.name:
            container_build.podman('rm', '-f', self.name, check=False, timeout=60)

    def processes(self):
        out = container_build.podman('top', self.name, 'user', 'pid', 'args').stdout
        return [line.split(None, 2) for line in out.splitlines()[1:] if line.strip()]

    def python(self, code):
        return container_build.podman('exec', self.name, 'python', '-c', code).stdout


@pytest.fixture
def container(image, volume):
    box = Container(image, volume)
    yield box
    box.remove()


def test_image_survives_replacement_with_patient_session_and_export(container):
    cold_start = container.start()
    assert cold_start < 30

    processes = container.processes()
    assert processes and all(user != 'root' for user, _, _ in processes), processes
    assert any('redis-server' in args for _, _, args in processes), processes
    assert any(re.search(r'run\.py (--\S+ )*web\b', args) for _, _, args in processes), processes
    assert any(re.search(r'run\.py (--\S+ )*worker\b', args) for _, _, args in processes), \
        processes
    aof = container.python("import pathlib; print(*pathlib.Path('/data/redis').rglob('*.aof*'))")
    assert aof.strip(), 'Redis writes its append-only file under /data'
    assert container.python("import os; print(os.getuid())").strip() != '0'

    email = unique_email('boxed')
    anon = Client(container.url)
    assert anon.post('/api/register', {'email': email, 'password': PASSWORD,
                                       'name': 'Ada Boxed'}).status == 201
    patient = Client(container.url).login(email, PASSWORD)
    started = patient.post('/api/exports')
    assert started.status == 202, started
    status_url = started.json['status_url']
    done = wait_until(lambda: (lambda b: b if b['status'] in ('done', 'failed') else None)(
        patient.get(status_url).json), 30, interval=0.1, message='export done')
    assert done['status'] == 'done', done
    first_file = patient.get(done['download_url'])
    assert first_file.status == 200 and first_file.body.startswith(b'date,time,doctor')

    code, took = container.stop()
    assert code == 0 and took < STOP_LIMIT, (code, took)
    container.remove()
    container.start()

    assert patient.get('/api/me').status == 200, 'the old session cookie still works'
    again = patient.get(status_url)
    assert again.status == 200 and again.json['status'] == 'done', again
    assert patient.get(done['download_url']).body == first_file.body
    assert Client(container.url).login(email, PASSWORD).user['email'] == email
    code, took = container.stop()
    assert code == 0 and took < STOP_LIMIT, (code, took)
