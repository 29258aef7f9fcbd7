"""The log of a whole run holds no patient data and no secrets.

`python run.py` (supervisor, web, worker) runs on demo data with its stdout
in a file while patients log in, book and export, a doctor records a visit,
the admin exports everything and runs the reminder and monthly report jobs,
a mail is refused by the SMTP server and someone types a wrong password.
Then the log is searched for every demo patient's email and name, every
diagnosis, treatment and prescription in the database, the passwords, the
session and CSRF tokens and the secret key."""
import datetime
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from urllib.parse import urlencode

import pytest

from tests.client import Client
from tests.conftest import ROOT, base_env, wait_until


def run_py(env, *args):
    return subprocess.run([sys.executable, str(ROOT / 'run.py'), *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


class Supervisor:
    def __init__(self, env, log_path):
        self.env, self.log_path = env, log_path
        self.url = f'http://127.0.0.1:{env["PORT"]}'

    def start(self):
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py')], cwd=ROOT,
                                     env={**os.environ, **self.env}, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_until(lambda: Client(self.url).get('/healthz').status == 200
                   if self._listening() else False, 30, 0.1, 'a healthy app')
        return self

    def _listening(self):
        assert self.proc.poll() is None, self.log_path.read_text(errors='replace')
        return b'web listening' in self.log_path.read_bytes()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def app_run(tmp_path, smtp):
    secrets = {'admin': f'Admin-pass-{uuid.uuid4().hex}', 'demo': f'Demo-{uuid.uuid4().hex[:12]}',
               'wrong': f'Wrong-guess-{uuid.uuid4().hex[:12]}'}
    env = base_env(tmp_path / 'data', smtp.port, ADMIN_EMAIL='log-admin@example.test',
                   ADMIN_PASSWORD=secrets['admin'], SECRET_KEY=f'key-{uuid.uuid4().hex}')
    demo = run_py(env, 'demo-data', '--appointments', '300', '--password', secrets['demo'])
    assert demo.returncode == 0, demo.stderr
    supervisor = Supervisor(env, tmp_path / 'run.log').start()
    yield supervisor, env, secrets
    supervisor.stop()


def db_rows(env, sql, *params):
    with sqlite3.connect(os.path.join(env['CLINIC_DATA_DIR'], 'clinic.db')) as conn:
        return conn.execute(sql, params).fetchall()


def wait_task(admin, task_id):
    def finished():
        body = admin.get(f'/api/tasks/{task_id}').json
        return body if body['status'] in ('success', 'failed') else None
    result = wait_until(finished, 60, 0.1, f'task {task_id}')
    assert result['status'] == 'success', result


def export_and_download(client):
    started = client.post('/api/exports', {} if client.user['role'] == 'patient'
                          else {'scope': 'all'})
    assert started.status == 202, started

    def finished():
        body = client.get(started.json['status_url']).json
        return body if body['status'] in ('done', 'failed') else None
    done = wait_until(finished, 60, 0.05, 'export')
    assert done['status'] == 'done', done
    download = client.get(done['download_url'])
    assert download.status == 200 and len(download.body) > 100
    return download.body


def book_next_free(patient, today):
    doctor = patient.get('/api/doctors').json['items'][0]
    for ahead in range(1, 30):
        day = (today + datetime.timedelta(days=ahead)).isoformat()
        times = patient.get(f'/api/doctors/{doctor["id"]}/free-times?date={day}').json['times']
        if times:
            resp = patient.post('/api/appointments', {'doctor_id': doctor['id'], 'date': day,
                                                      'time': times[0], 'reason': 'Checkup'})
            assert resp.status == 201, resp
            return
    raise AssertionError('no free time in 30 days')


def a_full_day(supervisor, env, secrets, smtp, today):
    """Everything a clinic does; returns the clients (their tokens are secrets)."""
    url = supervisor.url
    admin = Client(url).login('log-admin@example.test', secrets['admin'])
    first, second, third = (Client(url).login(f'patient{n}@demo.clinic', secrets['demo'])
                            for n in (1, 2, 3))
    book_next_free(first, today)
    book_next_free(second, today)
    assert export_and_download(first)

    [(visit_id, doctor_email)] = db_rows(
        env, 'SELECT a.id, d.email FROM appointment a JOIN "user" d ON d.id = a.doctor_id '
             "WHERE a.status = 'booked' AND a.date <= ? ORDER BY a.id LIMIT 1", today.isoformat())
    doctor = Client(url).login(doctor_email, secrets['demo'])
    assert doctor.get(f'/doctor/appointments/{visit_id}').status == 200
    diagnosis = f'Zebra fever {uuid.uuid4().hex[:8]}'
    resp = doctor.post(f'/api/appointments/{visit_id}/complete',
                       {'diagnosis': diagnosis, 'treatment': 'Striped ointment twice daily',
                        'prescription': 'Quaggamycin 5 mg'})
    assert resp.status == 200, resp

    assert export_and_download(admin)
    for job in ('daily_reminders', 'monthly_reports'):
        resp = admin.post(f'/api/jobs/{job}/run')
        assert resp.status == 202, resp
        wait_task(admin, resp.json['task_id'])

    refused = second.user['email']
    smtp.reject.add(refused)
    try:
        export_and_download(second)
        wait_until(lambda: any(m['to'] == refused for m in
                               admin.get('/api/outbox?status=failed').json['items']),
                   30, 0.1, 'the refused mail to fail')
    finally:
        smtp.reject.discard(refused)

    wrong = {'email': third.user['email'], 'password': secrets['wrong']}
    assert Client(url).post('/api/login', wrong).status == 401
    assert Client(url).post('/login', data=urlencode(wrong), csrf=False).status == 401
    assert admin.get('/admin/audit').status == 200
    assert admin.get('/admin/outbox').status == 200
    wait_until(lambda: admin.get('/api/admin/status').json['outbox']['pending'] == 0,
               30, 0.2, 'the outbox to settle')
    return diagnosis, [admin, first, second, third, doctor]


def test_a_full_run_logs_no_patient_data_or_secrets(app_run, smtp):
    supervisor, env, secrets = app_run
    today = datetime.datetime.now(datetime.timezone.utc).date()  # CLINIC_TZ is UTC
    diagnosis, clients = a_full_day(supervisor, env, secrets, smtp, today)
    time.sleep(0.5)  # let the consumer write the lines of the tasks that just ended
    assert supervisor.stop() == 0
    log = supervisor.log_path.read_text(errors='replace')

    patients = db_rows(env, 'SELECT email, name FROM "user" WHERE role = \'patient\'')
    medical = {text for row in db_rows(env, 'SELECT diagnosis, treatment, prescription '
                                            'FROM treatment') for text in row if text}
    tokens = {value for c in clients
              for value in (c.csrf_token, c.cookie('clinicdesk_session').value)}
    needles = ({email for email, _ in patients if email} | {name for _, name in patients} | medical
               | tokens | set(secrets.values()) | {env['SECRET_KEY']})
    # The search must have something to find: the data is there, and the log
    # is the log of the whole run (web, worker, both jobs, the exports).
    assert len(patients) >= 60 and diagnosis in medical and len(medical) > 20
    for line in ('web listening', 'Huey consumer started', 'Executing tasks.export_history',
                 'Executing tasks.daily_reminders_for', 'Executing tasks.monthly_reports_for',
                 'Executing tasks.deliver_outbox', 'stopped'):
        assert line in log, line

    # The same search finds what the log does hold: each export's task id.
    task_ids = [task_id for (task_id,) in db_rows(env, 'SELECT task_id FROM export')]
    assert len(task_ids) == 3 and all(task_id in log for task_id in task_ids)

    leaked = sorted(needle for needle in needles if needle in log)
    assert leaked == [], f'the log holds {leaked}'
