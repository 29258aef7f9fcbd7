"""The suite again on the other real backends: Redis for the queue and cache
(REDIS_URL), PostgreSQL for the database (DATABASE_URL). Both reruns take
the API and the jobs that touch the queue and the database most; the pure
page, browser and process tests do not depend on the backend."""
import os
import subprocess
import sys

import pytest

from tests.conftest import BACKEND, ROOT, postgres_bin, require_binary

API_SUITE = [
    'tests/test_accounts_api.py',
    'tests/test_appointments_api.py',
    'tests/test_authorization.py',
    'tests/test_hostile_input.py',
    'tests/test_stats_cache.py',
    'tests/test_status.py',
    'tests/test_exports.py',
    'tests/test_jobs_api.py',
]
SUITES = {
    'redis': API_SUITE,
    'postgres': API_SUITE + ['tests/test_reports.py', 'tests/test_audit.py',
                             'tests/test_reminders.py'],
}

pytestmark = pytest.mark.skipif(BACKEND != 'sqlite', reason='already inside a backend run')


def start_suite(backend):
    env = {**os.environ, 'CLINIC_TEST_BACKEND': backend}
    files = [f for f in SUITES[backend] if (ROOT / f).exists()]
    return subprocess.Popen([sys.executable, '-m', 'pytest', '-q', '-x', '-p', 'no:cacheprovider',
                             *files], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope='module')
def suites():
    """Both reruns start at once (they wait on I/O much of the time)."""
    runs = {}
    if require_binary('redis-server'):
        runs['redis'] = start_suite('redis')
    if postgres_bin('initdb'):
        runs['postgres'] = start_suite('postgres')
    yield runs
    for proc in runs.values():
        if proc.poll() is None:
            proc.kill()


def assert_suite_passed(proc):
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output[-8000:]
    assert ' passed' in output.strip().splitlines()[-1]


def test_api_suite_passes_with_redis_queue(suites):
    assert_suite_passed(suites['redis'])


def test_api_suite_passes_on_postgresql(suites):
    assert_suite_passed(suites['postgres'])
