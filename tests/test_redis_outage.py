"""R2: Redis stopped while the app runs. The web server and the consumer run
as real processes on Redis (queue and cache) with their own data dir; Redis
is stopped under them and started again on the same port."""
import re
import subprocess
import sys
import time

import pytest

from tests.client import Client
from tests.conftest import (PASSWORD, ROOT, RedisServer, WorkerProcess, base_env, unique_email,
                            wait_until)

ADMIN = 'outage-admin@example.test'
# Long enough for Huey's workers to have failed dozens of polls each
# (they retry every 0.1 s); the log must still be a few lines.
OUTAGE_OBSERVED = 8.0
LOG_GROWTH_LIMIT = 4096


class WebProcess:
    """`python run.py web` as a child process."""

    def __init__(self, env, log_path):
        self.env = env
        self.url = f'http://127.0.0.1:{env["PORT"]}'
        self.log_path = log_path
        self.proc = None

    def start(self):
        import os
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py'), 'web'], cwd=ROOT,
                                     env={**os.environ, **self.env}, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=20, message='web start')
        return self

    def _answers(self):
        assert self.proc.poll() is None, self.log_path.read_text()
        try:
            return Client(self.url).get('/healthz').status in (200, 503)
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.log.close()


@pytest.fixture
def clinic_on_redis(tmp_path):
    redis = RedisServer(tmp_path / 'redis-dir')
    (tmp_path / 'redis-dir').mkdir()
    redis.start()
    env = base_env(tmp_path / 'data', REDIS_URL=redis.url, ADMIN_EMAIL=ADMIN,
                   ADMIN_PASSWORD=PASSWORD)
    (tmp_path / 'data').mkdir()
    web = WebProcess(env, tmp_path / 'web.log').start()
    worker = WorkerProcess(env).start().wait_ready()
    try:
        yield redis, web, worker
    finally:
        worker.stop()
        web.stop()
        redis.stop()


def health(client):
    resp = client.get('/healthz')
    return resp.status, resp.json


def run_job(admin):
    return admin.post('/api/jobs/monthly_reports/run', {'month': '2021-03'})


def task_done(admin, task_id):
    return admin.get(f'/api/tasks/{task_id}').json['status'] == 'success'


def test_redis_outage_keeps_reads_working_refuses_enqueues_and_recovers_alone(clinic_on_redis):
    redis, web, worker = clinic_on_redis
    admin = Client(web.url).login(ADMIN, PASSWORD)
    anon = Client(web.url)
    email = unique_email('outage-patient')
    patient = Client(web.url)
    assert patient.post('/api/register', {'email': email, 'password': PASSWORD,
                                          'name': 'Pat Outage'}).status == 201
    patient.login(email, PASSWORD)
    wait_until(lambda: health(anon)[0] == 200, timeout=15, message='healthy on Redis')
    first = run_job(admin)
    assert first.status == 202
    wait_until(lambda: task_done(admin, first.json['task_id']), timeout=15, message='task')
    assert admin.get('/api/admin/stats').status == 200
    assert admin.get('/api/admin/stats').headers['X-Cache'] == 'HIT'

    redis.stop()
    stopped_at = time.monotonic()
    log_at_stop = worker.log_path.stat().st_size

    # Reads and pages keep working; the cache falls through to the database.
    stats = admin.get('/api/admin/stats')
    assert stats.status == 200 and stats.headers['X-Cache'] == 'MISS'
    assert stats.json['patients'] >= 1
    for path in ('/admin', '/admin/status', '/api/appointments', '/api/me'):
        assert admin.get(path).status == 200, path
    assert patient.get('/patient').status == 200
    status = admin.get('/api/admin/status').json
    assert status['queue']['backend'] == 'redis'
    assert status['queue']['pending'] is None and status['queue']['up'] is False

    # Anything that must enqueue says the queue is unavailable.
    refused = run_job(admin)
    assert refused.status == 503
    assert 'queue is unavailable' in refused.json['error']
    export = patient.post('/api/exports', {})
    assert export.status == 503, export
    assert 'queue' in export.json['error']

    code, report = health(anon)
    assert code == 503
    assert report['queue'] == 'down' and report['database'] == 'ok'

    # The consumer keeps failing to read the queue; its log must not flood.
    time.sleep(max(0.0, OUTAGE_OBSERVED - (time.monotonic() - stopped_at)))
    log = worker.output()
    grown = worker.log_path.stat().st_size - log_at_stop
    assert grown < LOG_GROWTH_LIMIT, log[-3000:]
    assert len(re.findall(r'queue unavailable', log)) <= 2, log[-3000:]
    assert worker.proc.poll() is None

    redis.start()  # same port, nothing restarted in the app
    wait_until(lambda: health(anon)[0] == 200, timeout=20, message='healthy again')
    again = run_job(admin)
    assert again.status == 202, again
    wait_until(lambda: task_done(admin, again.json['task_id']), timeout=20,
               message='task after the outage')
    assert admin.get('/api/admin/status').json['queue']['up'] is True
    assert patient.post('/api/exports', {}).status == 202
    assert web.proc.poll() is None and worker.proc.poll() is None


def report_body():
    return {'name': 'Outage numbers', 'kind': 'appointments', 'frequency': 'daily',
            'time': '07:00', 'recipients': [unique_email('outage-owner')], 'format': 'csv',
            'active': True}


def test_run_now_and_other_enqueues_answer_503_and_leave_nothing_behind(clinic_on_redis):
    redis, web, worker = clinic_on_redis
    admin = Client(web.url).login(ADMIN, PASSWORD)
    report = admin.post('/api/reports', report_body())
    assert report.status == 201, report
    runs = f"/api/reports/{report.json['id']}/executions"
    form = f"csrf_token={admin.csrf_token}"

    redis.stop()
    for path in (f"/api/reports/{report.json['id']}/run",
                 f"/api/reports/{report.json['id']}/test"):
        refused = admin.post(path)
        assert refused.status == 503, (path, refused)
        assert 'queue is unavailable' in refused.json['error']
    page = admin.post(f"/admin/reports/{report.json['id']}/run", data=form,
                      headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert page.status == 503, page
    assert 'queue is unavailable' in page.text
    assert admin.get(runs).json == []  # no run left 'running' for nobody
    for name in ('monthly_reports', 'daily_reminders', 'nightly_backup'):
        assert admin.post(f'/api/jobs/{name}/run').status == 503, name

    redis.start()
    wait_until(lambda: health(Client(web.url))[0] == 200, timeout=20, message='healthy again')
    again = admin.post(f"/api/reports/{report.json['id']}/run")
    assert again.status == 202, again
    assert [run['id'] for run in admin.get(runs).json] == [again.json['execution_id']]
