"""History export (SPEC §5, §6): queued over HTTP, run by a real consumer,
polled, downloaded, mailed; who may see it; the CSV format; expiry; many at
once; a worker killed in the middle."""
import csv
import datetime
import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

import pytest

import tasks
from app import workers
from app.auth import hash_password
from app.db import database
from app.models import Appointment, Export, OutboxMessage, Treatment, User, utcnow
from app.services import exports
from tests.client import Client
from tests.conftest import (BACKEND, PASSWORD, ROOT, WorkerProcess, base_env, unique_email,
                            wait_until)

HEADER = ['date', 'time', 'doctor', 'specialization', 'status', 'diagnosis', 'treatment',
          'prescription']
ORDER = ['queued', 'running', 'done']


def make_doctor(name='Dr Test', specialization='General practice'):
    """A doctor row; names may hold anything a CSV must survive."""
    with database.connection_context():
        return User.create(email=unique_email('doctor'), password_hash='-', name=name,
                           role='doctor', specialization=specialization)


def add_visits(patient_id, doctor, visits):
    """visits: (date, time, status, diagnosis, treatment, prescription);
    diagnosis None means no treatment row."""
    with database.connection_context(), database.atomic():
        for day, hhmm, status, diagnosis, treatment, prescription in visits:
            appt = Appointment.create(patient=patient_id, doctor=doctor,
                                      date=datetime.date.fromisoformat(day), time=hhmm,
                                      status=status)
            if diagnosis is not None:
                Treatment.create(appointment=appt, diagnosis=diagnosis, treatment=treatment,
                                 prescription=prescription)


def add_many_visits(patient_id, doctor, count):
    start = datetime.date(2015, 1, 1)
    rows = [{'patient': patient_id, 'doctor': doctor.id,
             'date': start + datetime.timedelta(days=i // 16),
             'time': f'{9 + (i % 16) // 2:02d}:{30 * (i % 2):02d}', 'status': 'completed'}
            for i in range(count)]
    with database.connection_context(), database.atomic():
        for chunk in range(0, count, 500):
            Appointment.insert_many(rows[chunk:chunk + 500]).execute()


def start_export(client, body=None):
    resp = client.post('/api/exports', body or {})
    assert resp.status == 202, resp
    assert set(resp.json) == {'task_id', 'status_url'}
    assert resp.json['status_url'] == f'/api/exports/{resp.json["task_id"]}'
    return resp.json


def wait_for_export(client, status_url, timeout=30):
    """Poll like the page does; returns the final status and the statuses seen."""
    seen = []

    def finished():
        resp = client.get(status_url)
        assert resp.status == 200, resp
        body = resp.json
        assert set(body) == {'status', 'progress', 'rows', 'download_url', 'error'}
        if not seen or seen[-1][0] != body['status'] or seen[-1][1] != body['progress']:
            seen.append((body['status'], body['progress']))
        return body if body['status'] in ('done', 'failed') else None

    return wait_until(finished, timeout, interval=0.02, message='export to finish'), seen


def assert_plausible_progress(seen):
    statuses = [status for status, _ in seen]
    assert statuses == sorted(statuses, key=ORDER.index), seen
    percents = [progress for _, progress in seen]
    assert percents == sorted(percents), seen


def read_csv(body):
    text = body.decode('utf-8')
    return list(csv.reader(io.StringIO(text, newline='')))


def export_csv(client, body=None):
    started = start_export(client, body)
    final, seen = wait_for_export(client, started['status_url'])
    assert final['status'] == 'done', final
    resp = client.get(final['download_url'])
    assert resp.status == 200, resp
    return started['task_id'], final, resp


def csv_attachments(message):
    return [(part.get_filename(), part.get_payload(decode=True))
            for part in message.iter_attachments() if part.get_content_type() == 'text/csv']


def test_patient_exports_history_downloads_it_and_gets_it_by_email(worker, smtp, patient):
    doctor = make_doctor('Dr Amara Osei', 'Cardiology')
    add_visits(patient.user['id'], doctor, [
        ('2025-03-02', '10:30', 'completed', 'Hypertension', 'Lifestyle advice',
         'Amlodipine 5 mg'),
        ('2025-01-15', '09:00', 'cancelled', None, None, None),
        ('2025-02-01', '11:00', 'no_show', None, None, None),
    ])

    started = start_export(patient)
    final, seen = wait_for_export(patient, started['status_url'])

    assert final == {'status': 'done', 'progress': 100, 'rows': 3, 'error': None,
                     'download_url': f'/api/exports/{started["task_id"]}/download'}
    assert_plausible_progress(seen)
    resp = patient.get(final['download_url'])
    assert resp.status == 200
    assert resp.headers['Content-Type'].startswith('text/csv')
    disposition = resp.headers['Content-Disposition']
    assert disposition.startswith('attachment;') and '.csv"' in disposition
    assert read_csv(resp.body) == [
        HEADER,
        ['2025-01-15', '09:00', 'Dr Amara Osei', 'Cardiology', 'cancelled', '', '', ''],
        ['2025-02-01', '11:00', 'Dr Amara Osei', 'Cardiology', 'no_show', '', '', ''],
        ['2025-03-02', '10:30', 'Dr Amara Osei', 'Cardiology', 'completed', 'Hypertension',
         'Lifestyle advice', 'Amlodipine 5 mg'],
    ]

    mails = wait_until(lambda: smtp.to(patient.user['email']), 20, message='export email')
    assert len(mails) == 1
    assert 'ready' in mails[0]['Subject']
    [(filename, content)] = csv_attachments(mails[0])
    assert filename.endswith('.csv')
    assert content == resp.body
    body = mails[0].get_body(('plain',)).get_content()
    assert f'/exports/{started["task_id"]}/download' in body


def test_email_link_sends_a_logged_out_browser_to_the_login_page(worker, patient, anon):
    task_id, _, download = export_csv(patient)
    resp = anon.get(f'/exports/{task_id}/download')
    assert resp.status in (302, 303)
    assert unquote(resp.headers['Location']).endswith(f'/login?next=/exports/{task_id}/download')
    assert patient.get(f'/exports/{task_id}/download').body == download.body


def test_csv_quotes_commas_quotes_newlines_and_unicode_oldest_first(worker, patient):
    doctor = make_doctor('Dr Ana "Doc" Núñez, MD', 'Pédiatrie / 小児科')
    add_visits(patient.user['id'], doctor, [
        ('2024-06-01', '14:30', 'completed', 'Otitis, left ear', 'Drops\nreview in 2 weeks',
         'Ciprofloxacin "otic" 0.3%'),
        ('2024-06-01', '09:00', 'completed', 'Zürich – 東京 ✓', 'Ça va', None),
        ('2023-12-31', '16:30', 'cancelled', None, None, None),
    ])

    _, final, resp = export_csv(patient)

    assert resp.body.startswith(b'date,time,doctor,specialization,status,diagnosis,'
                                b'treatment,prescription\r\n')
    assert not resp.body.startswith(b'\xef\xbb\xbf')
    assert final['rows'] == 3
    assert read_csv(resp.body)[1:] == [
        ['2023-12-31', '16:30', 'Dr Ana "Doc" Núñez, MD', 'Pédiatrie / 小児科', 'cancelled',
         '', '', ''],
        ['2024-06-01', '09:00', 'Dr Ana "Doc" Núñez, MD', 'Pédiatrie / 小児科', 'completed',
         'Zürich – 東京 ✓', 'Ça va', ''],
        ['2024-06-01', '14:30', 'Dr Ana "Doc" Núñez, MD', 'Pédiatrie / 小児科', 'completed',
         'Otitis, left ear', 'Drops\nreview in 2 weeks', 'Ciprofloxacin "otic" 0.3%'],
    ]
    assert b'"Dr Ana ""Doc"" N\xc3\xba\xc3\xb1ez, MD"' in resp.body
    assert b'"Drops\nreview in 2 weeks"' in resp.body


@pytest.mark.parametrize('start', ['=', '+', '-', '@', '\t', '\r'])
def test_every_formula_prefix_is_neutralised(worker, patient, start):
    doctor = make_doctor(f'{start}Dr Formula', f'{start}Spec')
    add_visits(patient.user['id'], doctor, [
        ('2025-05-05', '10:00', 'completed', f'{start}HYPERLINK("http://x")',
         f'{start}1+1', f'{start}cmd|\' /C calc\'!A0'),
    ])

    _, _, resp = export_csv(patient)

    [row] = read_csv(resp.body)[1:]
    assert row == ['2025-05-05', '10:00', f"'{start}Dr Formula", f"'{start}Spec", 'completed',
                   f"'{start}HYPERLINK(\"http://x\")", f"'{start}1+1",
                   f"'{start}cmd|' /C calc'!A0"]


def test_cells_with_formula_characters_inside_are_left_alone(worker, patient):
    add_visits(patient.user['id'], make_doctor('Dr A-B'), [
        ('2025-05-05', '10:00', 'completed', 'a=b', 'x+y', 'mail@home'),
    ])
    _, _, resp = export_csv(patient)
    assert read_csv(resp.body)[1][2:] == ['Dr A-B', 'General practice', 'completed', 'a=b',
                                          'x+y', 'mail@home']


def test_other_patient_doctor_and_anonymous_cannot_see_or_download_an_export(
        worker, patient, make_user, base_url, doctor, anon, admin):
    task_id, _, _ = export_csv(patient)
    other = make_user(base_url, 'patient')
    for path in (f'/api/exports/{task_id}', f'/api/exports/{task_id}/download'):
        assert other.get(path).status == 404
        assert doctor.get(path).status == 404
        assert anon.get(path).status == 401
        assert admin.get(path).status == 200
    assert other.get(f'/api/exports/{task_id}').json == {'error': 'export not found'}
    assert patient.get('/api/exports/00000000-0000-0000-0000-000000000000').status == 404


def test_doctor_and_anonymous_cannot_start_an_export(doctor, anon, patient):
    assert doctor.post('/api/exports').status == 403
    assert anon.post('/api/exports').status == 401
    assert patient.post('/api/exports', {'scope': 'all'}).status == 403


def test_admin_all_data_export_puts_patient_email_and_name_first(worker, admin, make_user,
                                                                 base_url):
    someone = make_user(base_url, 'patient', name='Ivy Export')
    add_visits(someone.user['id'], make_doctor('Dr Zed'), [
        ('2025-04-04', '08:30', 'completed', 'Flu', 'Rest', None)])
    with database.connection_context():
        expected_rows = Appointment.select().count()

    _, final, resp = export_csv(admin, {'scope': 'all'})

    rows = read_csv(resp.body)
    assert rows[0] == ['patient_email', 'patient_name'] + HEADER
    assert final['rows'] == expected_rows == len(rows) - 1
    assert [someone.user['email'], 'Ivy Export', '2025-04-04', '08:30', 'Dr Zed',
            'General practice', 'completed', 'Flu', 'Rest', ''] in rows
    assert [row[2] + row[3] for row in rows[1:]] == sorted(row[2] + row[3] for row in rows[1:])
    assert 'all-data' in resp.headers['Content-Disposition']


def test_admin_exports_one_patients_history(worker, admin, patient):
    add_visits(patient.user['id'], make_doctor(), [
        ('2025-04-04', '08:30', 'completed', 'Flu', 'Rest', None)])
    _, final, resp = export_csv(admin, {'patient_id': patient.user['id']})
    rows = read_csv(resp.body)
    assert rows[0] == HEADER and final['rows'] == 1 == len(rows) - 1


def test_admin_export_needs_a_patient_or_all_data(admin, doctor):
    resp = admin.post('/api/exports', {})
    assert resp.status == 400 and 'patient_id' in resp.json['error']
    assert admin.post('/api/exports', {'patient_id': 2**31 - 1}).status == 404
    assert admin.post('/api/exports', {'patient_id': doctor.user['id']}).status == 404
    assert admin.post('/api/exports', {'scope': 'everything'}).status == 400
    assert admin.post('/api/exports', {'patient_id': 'x'}).status == 400


def test_second_click_while_running_reuses_the_export(worker, patient):
    add_many_visits(patient.user['id'], make_doctor(), 20_000)
    barrier = threading.Barrier(2)

    def click():
        barrier.wait()
        return start_export(patient)['task_id']

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: click(), range(2))

    assert first == second
    final, _ = wait_for_export(patient, f'/api/exports/{first}')
    assert final['status'] == 'done' and final['rows'] == 20_000
    with database.connection_context():
        assert Export.select().where(Export.requester == patient.user['id']).count() == 1
    assert start_export(patient)['task_id'] == first  # done a moment ago: the same one
    with database.connection_context():
        a_minute_ago = utcnow() - exports.REUSE_DONE - datetime.timedelta(seconds=1)
        Export.update(finished_at=a_minute_ago).where(Export.task_id == first).execute()
    assert start_export(patient)['task_id'] != first  # a minute after: a new one


def test_three_quick_clicks_make_one_export_and_one_email(worker, smtp, patient, admin):
    ids = {start_export(patient)['task_id'] for _ in range(3)}
    assert len(ids) == 1
    [task_id] = ids
    assert wait_for_export(patient, f'/api/exports/{task_id}')[0]['status'] == 'done'
    ids |= {start_export(patient)['task_id'] for _ in range(3)}  # clicks just after it finished
    assert ids == {task_id}
    other = start_export(admin, {'patient_id': patient.user['id']})['task_id']
    assert other != task_id  # another requester or other data is another export
    with database.connection_context():
        export = Export.get(Export.task_id == task_id)
        assert Export.select().where(Export.requester == patient.user['id']).count() == 1
        assert OutboxMessage.select().where(
            OutboxMessage.dedupe_key == f'export:{export.id}').count() == 1
    wait_until(lambda: smtp.to(patient.user['email']), 10, message='ready email')
    time.sleep(0.3)
    assert len(smtp.to(patient.user['email'])) == 1


def test_expired_or_failed_export_is_not_reused(worker, patient):
    first = export_csv(patient)[0]
    with database.connection_context():
        Export.update(status='failed').where(Export.task_id == first).execute()
    second = start_export(patient)['task_id']
    assert second != first
    wait_for_export(patient, f'/api/exports/{second}')
    with database.connection_context():
        Export.update(expired_at=utcnow()).where(Export.task_id == second).execute()
    assert start_export(patient)['task_id'] not in (first, second)


def test_expired_export_answers_410_and_says_so(worker, patient, settings):
    task_id, final, _ = export_csv(patient)
    with database.connection_context():
        export = Export.get(Export.task_id == task_id)
        past = export.finished_at - datetime.timedelta(days=settings.export_retention_days + 1)
        Export.update(finished_at=past).where(Export.id == export.id).execute()
        assert exports.delete_expired(settings) >= 1
    assert not (settings.exports_dir / export.file_name).exists()

    resp = patient.get(final['download_url'])
    assert resp.status == 410
    assert 'expired' in resp.json['error'] and 'new export' in resp.json['error']
    status = patient.get(f'/api/exports/{task_id}').json
    assert status['status'] == 'done' and status['download_url'] is None
    assert 'expired' in status['error']


def test_thirty_concurrent_exports_all_finish_without_database_locked(worker, base_url):
    doctor = make_doctor()
    password_hash = hash_password(PASSWORD)
    emails = [unique_email('crowd') for _ in range(30)]
    with database.connection_context(), database.atomic():
        User.insert_many([{'email': e, 'password_hash': password_hash, 'name': 'Crowd',
                           'role': 'patient'} for e in emails]).execute()
        ids = [u.id for u in User.select().where(User.email.in_(emails))]
    for patient_id in ids:
        add_many_visits(patient_id, doctor, 40)
    with ThreadPoolExecutor(10) as pool:
        clients = list(pool.map(lambda e: Client(base_url).login(e, PASSWORD), emails))
        barrier = threading.Barrier(len(clients))

        def export(client):
            barrier.wait()
            started = start_export(client)
            return wait_for_export(client, started['status_url'], timeout=60)[0]

        with ThreadPoolExecutor(len(clients)) as crowd:
            finals = list(crowd.map(export, clients))

    assert [f['status'] for f in finals] == ['done'] * 30, finals
    assert all(f['rows'] == 40 and f['error'] is None for f in finals)
    assert 'database is locked' not in worker.output()


def orphan_export(patient_id, **fields):
    """An export row as a worker that vanished would leave it."""
    with database.connection_context():
        return Export.create(task_id=str(uuid.uuid4()), requester=patient_id, scope='patient',
                             patient=patient_id, **fields)


def test_running_export_of_a_worker_that_vanished_runs_again(worker, patient, settings, smtp):
    add_visits(patient.user['id'], make_doctor(), [
        ('2025-04-04', '08:30', 'completed', 'Flu', 'Rest', None)])
    export = orphan_export(patient.user['id'], status='running', attempts=1,
                           owner='host-that-is-gone:4242:x')
    with database.connection_context():
        assert tasks.recover_exports() >= 1

    final, _ = wait_for_export(patient, f'/api/exports/{export.task_id}')
    assert final['status'] == 'done' and final['rows'] == 1
    wait_until(lambda: smtp.to(patient.user['email']), 20, message='export email')
    with database.connection_context():
        assert tasks.recover_exports() == 0  # nothing left to re-run
    assert len(smtp.to(patient.user['email'])) == 1


def test_queued_export_whose_message_was_lost_runs_again(worker, patient, settings):
    long_ago = utcnow() - workers.QUEUE_GRACE * 2
    export = orphan_export(patient.user['id'], created_at=long_ago)
    with database.connection_context():
        assert tasks.recover_exports() >= 1
    final, _ = wait_for_export(patient, f'/api/exports/{export.task_id}')
    assert final['status'] == 'done' and final['rows'] == 0


def test_export_a_live_worker_runs_is_left_alone(patient, settings):
    export = orphan_export(patient.user['id'], status='running', attempts=1,
                           owner=workers.identity())
    with database.connection_context():
        exports.recover_interrupted()
        assert Export.get_by_id(export.id).attempts == 1
        Export.delete().where(Export.id == export.id).execute()


class WebProcess:
    """`python run.py web` on its own data dir."""

    def __init__(self, env):
        self.env = env
        self.url = f'http://127.0.0.1:{env["PORT"]}'
        self.log_path = Path(env['CLINIC_DATA_DIR']) / 'web.log'
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py'), 'web'],
                                         cwd=ROOT, env={**os.environ, **env}, stdout=log,
                                         stderr=subprocess.STDOUT)

    def output(self):
        return self.log_path.read_text(errors='replace')

    def wait_ready(self):
        def answers():
            try:
                return Client(self.url).get('/healthz').status in (200, 503)
            except OSError:
                return False
        wait_until(answers, 20, message='web server')
        return self

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)


def fill_big_history(db_path, patient_id, count):
    """Appointments with treatments, written straight into that database."""
    start = datetime.date(2000, 1, 1)
    now = datetime.datetime(2025, 1, 1).isoformat(sep=' ')
    with sqlite3.connect(db_path, timeout=30) as conn:
        doctor_id = conn.execute(
            "INSERT INTO user (email, password_hash, name, role, specialization, "
            "reminders_enabled, active, created_at) VALUES (?, '-', 'Dr Long', 'doctor', "
            "'General practice', 1, 1, ?)", (unique_email('doctor'), now)).lastrowid
        first = (conn.execute('SELECT MAX(id) FROM appointment').fetchone()[0] or 0) + 1
        conn.executemany(
            'INSERT INTO appointment (id, patient_id, doctor_id, date, time, status, created_at, '
            'updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            ((first + i, patient_id, doctor_id,
              (start + datetime.timedelta(days=i // 16)).isoformat(),
              f'{9 + (i % 16) // 2:02d}:{30 * (i % 2):02d}', 'completed', now, now)
             for i in range(count)))
        conn.executemany(
            'INSERT INTO treatment (appointment_id, diagnosis, treatment, prescription, '
            'created_at) VALUES (?, ?, ?, ?, ?)',
            ((first + i, f'Diagnosis {i}, routine', 'Advice given', None, now)
             for i in range(count)))


def outbox_status(db_path, task_id):
    with sqlite3.connect(db_path, timeout=30) as conn:
        row = conn.execute(
            "SELECT o.status FROM outbox_message o JOIN export e "
            "ON o.dedupe_key = 'export:' || e.id WHERE e.task_id = ?", (task_id,)).fetchone()
    return row[0] if row else None


@pytest.mark.skipif(BACKEND != 'sqlite', reason='fills its own SQLite database directly')
def test_worker_killed_mid_export_finishes_after_restart_with_one_email(tmp_path, smtp):
    env = base_env(tmp_path, smtp.port, WORKERS='2')
    db_path = tmp_path / 'clinic.db'
    web = WebProcess(env).wait_ready()
    workers = []
    try:
        email = unique_email('killed')
        client = Client(web.url)
        resp = client.post('/api/register', {'email': email, 'password': PASSWORD,
                                             'name': 'Kim Killed'})
        assert resp.status == 201, resp
        client.login(email, PASSWORD)
        count = 200_000
        fill_big_history(db_path, client.user['id'], count)
        workers.append(WorkerProcess(env).start().wait_ready())

        started = start_export(client)

        def running_midway():
            body = client.get(started['status_url']).json
            assert body['status'] != 'done', 'the export finished before it could be killed'
            return body['status'] == 'running' and 0 < body['progress'] < 100
        wait_until(running_midway, 30, interval=0.005, message='export in progress')
        workers[0].kill()
        assert client.get(started['status_url']).json['status'] in ('queued', 'running')

        workers.append(WorkerProcess(env).start().wait_ready())
        final, _ = wait_for_export(client, started['status_url'], timeout=120)

        assert final['status'] == 'done' and final['rows'] == count, final
        assert 'interrupted' in workers[1].output()
        wait_until(lambda: outbox_status(db_path, started['task_id']) == 'sent', 30,
                   message='export email sent')
        mails = smtp.to(email)
        assert len(mails) == 1
        assert csv_attachments(mails[0]) == []  # over 5 MB: a link instead
        assert f'/exports/{started["task_id"]}/download' in mails[0].get_body(
            ('plain',)).get_content()
        download = client.get(final['download_url'])
        assert download.status == 200
        assert download.body.count(b'\r\n') == count + 1
    finally:
        for proc in workers:
            proc.stop()
        web.stop()


def test_queue_down_answers_503_and_leaves_no_queued_export(tmp_path, redis_server):
    env = base_env(tmp_path, REDIS_URL=redis_server.url)
    web = WebProcess(env).wait_ready()
    try:
        email = unique_email('no-queue')
        client = Client(web.url)
        assert client.post('/api/register', {'email': email, 'password': PASSWORD,
                                             'name': 'Nia Noqueue'}).status == 201
        client.login(email, PASSWORD)
        redis_server.stop()

        resp = client.post('/api/exports')

        assert resp.status == 503, web.output()
        assert 'queue' in resp.json['error']
        with sqlite3.connect(tmp_path / 'clinic.db', timeout=30) as conn:
            assert conn.execute('SELECT COUNT(*) FROM export').fetchone()[0] == 0
    finally:
        web.stop()
