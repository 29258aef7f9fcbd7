"""Running jobs now and following them (SPEC §6 /api/jobs, /api/tasks) and
reading monthly reports (/api/monthly-reports, the html_url page, the list on
the doctor's page), with the real consumer."""
import datetime
import uuid

from app.db import database
from app.models import MonthlyReport
from app.queue import huey
from tests.client import Client
from tests.conftest import wait_until

import tasks


def wait_task(admin, task_id, timeout=20):
    def finished():
        status = admin.get(f'/api/tasks/{task_id}').json
        return status if status['status'] in ('success', 'failed') else None
    return wait_until(finished, timeout, message=f'task {task_id}')


def last_month():
    first = datetime.date.today().replace(day=1)
    return f'{(first - datetime.timedelta(days=1)):%Y-%m}'


def test_admin_runs_daily_reminders_now_and_follows_the_task(admin, worker):
    far = (datetime.date.today() + datetime.timedelta(days=4321)).isoformat()
    resp = admin.post('/api/jobs/daily_reminders/run', {'date': far})
    assert resp.status == 202, resp
    task_id = resp.json['task_id']
    assert admin.get(f'/api/tasks/{task_id}').json['status'] in ('pending', 'running', 'success')
    done = wait_task(admin, task_id)
    assert done == {'task_id': task_id, 'status': 'success', 'error': None,
                    'result': {'date': far, 'patients': 0, 'appointments': 0, 'queued': 0,
                               'started': 0}}


def test_daily_reminders_default_to_today(admin, worker):
    # Today as it was before the run and after it: a run at midnight may see either.
    days = {datetime.date.today().isoformat()}
    resp = admin.post('/api/jobs/daily_reminders/run')
    assert resp.status == 202
    done = wait_task(admin, resp.json['task_id'])
    days.add(datetime.date.today().isoformat())
    assert done['status'] == 'success'
    assert done['result']['date'] in days


def test_monthly_reports_default_to_last_month(admin, worker):
    months = {last_month()}
    resp = admin.post('/api/jobs/monthly_reports/run', {})
    assert resp.status == 202
    done = wait_task(admin, resp.json['task_id'])
    months.add(last_month())
    assert done['status'] == 'success' and done['result']['month'] in months


def test_bad_job_requests_answer_4xx_with_the_field(admin, patient, base_url):
    assert admin.post('/api/jobs/no_such_job/run').status == 404
    for body, field in (({'date': '2026-13-01'}, 'date'), ({'date': 'tomorrow'}, 'date'),
                        ({'date': 20260101}, 'date'), ({'date': '2001-01-01'}, 'date')):
        resp = admin.post('/api/jobs/daily_reminders/run', body)
        assert resp.status == 400 and resp.json['error'].startswith(field), resp
    this_month = f'{datetime.date.today():%Y-%m}'
    for month in ('2026-1', '2026-00', this_month, '2999-01'):
        resp = admin.post('/api/jobs/monthly_reports/run', {'month': month})
        assert resp.status == 400 and resp.json['error'].startswith('month'), resp
    assert patient.post('/api/jobs/daily_reminders/run').status == 403
    assert Client(base_url).post('/api/jobs/daily_reminders/run').status == 401
    assert admin.post('/api/jobs/daily_reminders/run', csrf=False).status == 403


def test_a_failed_task_reports_its_error(admin, worker):
    task = tasks.ON_DEMAND['daily_reminders'].s('not-a-date')
    task.retries = 0  # fail for good at once rather than retry a minute later
    huey.enqueue(task)
    done = wait_task(admin, task.id)
    assert done['status'] == 'failed' and done['result'] is None
    assert 'not-a-date' in done['error']


def test_task_ids_are_checked(admin, patient):
    assert admin.get('/api/tasks/' + 'x' * 101).status == 404
    assert admin.get('/api/tasks/bad%20id').status == 404
    assert admin.get(f'/api/tasks/{uuid.uuid4()}').json['status'] == 'pending'
    assert patient.get(f'/api/tasks/{uuid.uuid4()}').status == 403


def report_for(client, month, **counts):
    fields = dict.fromkeys(('booked', 'completed', 'cancelled', 'no_show', 'patients'), 0)
    fields.update(counts)
    with database.connection_context():
        return MonthlyReport.create(doctor=client.user['id'], month=month,
                                    html=f'<p>report of {client.user["name"]} {month}</p>',
                                    **fields).id


def test_doctor_reads_own_reports_and_admin_reads_all(base_url, make_user, admin, patient):
    ada = make_user(base_url, 'doctor', name='Ada Lovelace')
    alan = make_user(base_url, 'doctor', name='Alan Turing')
    mine = report_for(ada, '2019-04', completed=3, patients=2)
    theirs = report_for(alan, '2019-04')

    items = ada.get('/api/monthly-reports').json['items']
    assert [item['id'] for item in items] == [mine]
    assert items[0] == {'id': mine, 'doctor': {'id': ada.user['id'], 'name': 'Ada Lovelace'},
                        'month': '2019-04',
                        'counts': {'booked': 0, 'completed': 3, 'cancelled': 0, 'no_show': 0,
                                   'patients': 2},
                        'html_url': f'/monthly-reports/{mine}'}
    every = admin.get('/api/monthly-reports?month=2019-04&limit=1000').json
    assert {mine, theirs} <= {item['id'] for item in every['items']}
    only_alan = admin.get(f'/api/monthly-reports?doctor_id={alan.user["id"]}').json['items']
    assert [item['id'] for item in only_alan] == [theirs]

    page = ada.get(f'/monthly-reports/{mine}')
    assert page.status == 200 and 'report of Ada Lovelace 2019-04' in page.text
    assert "default-src 'none'" in page.headers['Content-Security-Policy']
    assert admin.get(f'/monthly-reports/{theirs}').status == 200
    assert ada.get(f'/monthly-reports/{theirs}').status == 404
    assert ada.get('/monthly-reports/999999999').status == 404
    assert patient.get('/api/monthly-reports').status == 403
    assert patient.get(f'/monthly-reports/{mine}').status == 403
    assert Client(base_url).get('/api/monthly-reports').status == 401
    assert admin.get('/api/monthly-reports?month=April').status == 400


def test_doctor_page_lists_the_monthly_reports(base_url, make_user):
    ada = make_user(base_url, 'doctor', name='Ada Lovelace')
    report = report_for(ada, '2019-05', completed=1)
    page = ada.get('/doctor')
    assert page.status == 200
    assert 'Monthly reports' in page.text
    assert f'href="/monthly-reports/{report}"' in page.text and 'May 2019' in page.text
