"""A process loads only the drivers its settings use: with SQLite and no
REDIS_URL, neither psycopg2 nor redis-py is imported (each costs megabytes
in every process of the group, SPEC §7 P6). Libraries only some requests or
jobs need (QR codes, TOTP, SMTP, PDF and XLSX writers, every backend of
playhouse.db_url) wait for them too."""
import json
import subprocess
import sys

from tests.conftest import ROOT, base_env

# Each costs megabytes and serves only a few pages or jobs.
ON_DEMAND = ('fpdf', 'playhouse.db_url', 'pyotp', 'segno', 'smtplib', 'xlsxwriter')

# What `run.py web` and `run.py worker` import and do before serving, then one request.
PROCESS = '''
import json, sys
WATCHED = ('redis', 'psycopg2') + tuple(sys.argv[1:])  # and their submodules
from wsgiref.util import setup_testing_defaults
import run
from app.settings import load
settings = load()
run.skip_unused_drivers(settings)
from app.boot import boot
from app.consumer import run_consumer
from app.factory import create_app
import tasks
boot(settings)
app = create_app(settings)
environ = {'PATH_INFO': '/login'}
setup_testing_defaults(environ)
statuses = []
b''.join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
loaded = sorted(name for name, module in sys.modules.items()
                if module is not None and any(name == watched or name.startswith(watched + '.')
                                              for watched in WATCHED))
print(json.dumps({'status': statuses[0], 'loaded': loaded}))
'''


def drivers_loaded(tmp_path, **env):
    result = subprocess.run([sys.executable, '-c', PROCESS, *ON_DEMAND], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env=base_env(tmp_path, **env))
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sqlite_without_redis_loads_neither_driver_nor_on_demand_libraries(tmp_path):
    answer = drivers_loaded(tmp_path)
    assert answer['status'].startswith('200')
    assert answer['loaded'] == []


def test_a_redis_url_loads_redis_py(tmp_path):
    # Nothing listens there: loading the driver needs no server.
    answer = drivers_loaded(tmp_path, REDIS_URL='redis://127.0.0.1:9/0')
    assert 'redis' in answer['loaded'] and 'psycopg2' not in answer['loaded']
