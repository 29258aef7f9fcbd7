"""The background-jobs status (SPEC §6 GET /api/admin/status, /admin/status)
with a real consumer: recent runs with durations, failures with their error
and traceback, run now, retry, pause and resume."""
import datetime
import re

import pytest

import tasks
from app.db import database
from app.models import JobRun, utcnow
from app.queue import huey
from app.services import status, task_control
from app.workers import identity
from tests.conftest import BACKEND, wait_until
from tests.test_pages import location, submit

SPEC_FIELDS = {
    'queue': {'backend', 'pending', 'scheduled'},
    'worker': {'alive', 'last_heartbeat'},
    'outbox': {'pending', 'sent', 'failed'},
}
PERIODIC_FIELDS = {'name', 'schedule', 'last_run_at', 'last_status', 'next_run_at'}
RECENT_FIELDS = {'task', 'task_id', 'status', 'started_at', 'duration_ms', 'error'}


def snapshot(admin):
    resp = admin.get('/api/admin/status')
    assert resp.status == 200, resp
    return resp.json


def run_of(admin, task_id, *statuses):
    for run in snapshot(admin)['recent']:
        if run['task_id'] == task_id and run['status'] in statuses:
            return run
    return None


def is_iso_with_offset(value):
    return datetime.datetime.fromisoformat(value).utcoffset() is not None


def periodic_item(admin, name):
    return next(p for p in snapshot(admin)['periodic'] if p['name'] == name)


def fail_for_good(*args):
    """Queue the on-demand reminders task with a day it cannot parse and no
    retries left: it fails at once, for good, the way a real bug would."""
    task = tasks.ON_DEMAND['daily_reminders'].task_class(args=args, retries=0)
    huey.enqueue(task)
    return task.id



def test_status_has_every_field_of_the_spec(admin, worker):
    wait_until(lambda: snapshot(admin)['worker']['alive'], timeout=15, message='heartbeat')
    data = snapshot(admin)
    for part, fields in SPEC_FIELDS.items():
        assert fields <= set(data[part]), part
    assert data['queue']['backend'] == ('redis' if BACKEND == 'redis' else 'sqlite')
    assert isinstance(data['queue']['pending'], int)
    assert isinstance(data['queue']['scheduled'], int)
    assert data['worker']['alive'] is True
    assert is_iso_with_offset(data['worker']['last_heartbeat'])
    assert all(isinstance(data['outbox'][k], int) for k in ('pending', 'sent', 'failed'))
    assert isinstance(data['recent'], list)
    names = [item['name'] for item in data['periodic']]
    assert {'daily_reminders', 'monthly_reports'} <= set(names)
    for item in data['periodic']:
        assert PERIODIC_FIELDS <= set(item)
        assert is_iso_with_offset(item['next_run_at'])


def test_periodic_jobs_show_their_schedule_in_words_and_next_run_in_clinic_time(admin, settings):
    before = datetime.datetime.now(settings.tz)
    data = snapshot(admin)
    after = datetime.datetime.now(settings.tz)
    jobs = {item['name']: item for item in data['periodic']}
    reminder_at = settings.reminder_time.strftime('%H:%M')
    assert reminder_at in jobs['daily_reminders']['schedule']
    assert 'every day' in jobs['daily_reminders']['schedule']
    assert '1st' in jobs['monthly_reports']['schedule']
    nxt = datetime.datetime.fromisoformat(jobs['daily_reminders']['next_run_at'])
    assert nxt.strftime('%H:%M') == reminder_at
    assert before < nxt <= after + datetime.timedelta(days=1)
    first = datetime.datetime.fromisoformat(jobs['monthly_reports']['next_run_at'])
    assert first.day == 1
    assert jobs['housekeeping']['schedule'] == 'every minute'


def test_only_admins_see_the_status(patient, doctor, anon):
    assert patient.get('/api/admin/status').status == 403
    assert doctor.get('/api/admin/status').status == 403
    assert anon.get('/api/admin/status').status == 401



def test_run_now_shows_up_in_recent_runs_with_its_duration(admin, worker):
    resp = admin.post('/api/jobs/monthly_reports/run', {'month': '2020-01'})
    assert resp.status == 202, resp
    task_id = resp.json['task_id']
    run = wait_until(lambda: run_of(admin, task_id, 'success'), timeout=15, message='run')
    assert run['task'] == 'monthly_reports_for'
    assert isinstance(run['duration_ms'], int) and run['duration_ms'] >= 0
    assert is_iso_with_offset(run['started_at'])
    assert run['error'] is None
    job = periodic_item(admin, 'monthly_reports')
    assert job['last_status'] == 'success'
    assert is_iso_with_offset(job['last_run_at'])


def test_run_now_from_the_page_queues_any_periodic_job(admin, worker):
    page = admin.get('/admin/status')
    before = {r['task_id'] for r in snapshot(admin)['recent'] if r['task'] == 'housekeeping'}
    resp = admin.post('/admin/status/jobs/housekeeping/run',
                      data=f'csrf_token={admin.csrf_token}',
                      headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert resp.status in (302, 303), resp
    assert resp.headers['Location'].endswith('/admin/status')
    assert page.status == 200
    wait_until(lambda: {r['task_id'] for r in snapshot(admin)['recent']
                        if r['task'] == 'housekeeping' and r['status'] == 'success'} - before,
               timeout=15, message='housekeeping run')


def test_a_failed_task_shows_its_error_and_traceback(admin, worker):
    task_id = fail_for_good('not-a-date')
    run = wait_until(lambda: run_of(admin, task_id, 'failed'), timeout=15, message='failure')
    assert 'not-a-date' in run['error']
    failure = wait_until(lambda: next((f for f in snapshot(admin)['failures']
                                       if f['task_id'] == task_id), None), timeout=10,
                         message='failure record')
    assert failure['task'] == 'daily_reminders_for'
    assert 'ValueError' in failure['error']
    assert 'Traceback (most recent call last)' in failure['traceback']
    assert failure['can_retry'] is True
    assert admin.get(f'/api/tasks/{task_id}').json['status'] == 'failed'
    page = admin.get('/admin/status')
    assert 'Traceback (most recent call last)' in page.text
    assert f'/admin/status/tasks/{task_id}/retry' in page.text


def test_retry_runs_the_failed_task_again_with_the_same_arguments(admin, worker):
    task_id = fail_for_good('still-not-a-date')
    wait_until(lambda: any(f['task_id'] == task_id for f in snapshot(admin)['failures']),
               timeout=15, message='failure record')
    resp = admin.post(f'/api/tasks/{task_id}/retry')
    assert resp.status == 202, resp
    assert resp.json['task_id'] == task_id
    failure = next(f for f in snapshot(admin)['failures'] if f['task_id'] == task_id)
    assert failure['retried_at'] and failure['can_retry'] is False
    # The same arguments fail the same way; Huey's retries of the task apply again.
    run = wait_until(lambda: run_of(admin, task_id, 'retrying'), timeout=15, message='rerun')
    assert 'still-not-a-date' in run['error']
    assert admin.post(f'/api/tasks/{task_id}/retry').status == 409


def test_retry_of_an_unknown_task_is_404_and_needs_an_admin(admin, patient):
    assert admin.post('/api/tasks/no-such-task/retry').status == 404
    assert patient.post('/api/tasks/no-such-task/retry').status == 403
    assert admin.post('/api/tasks/no-such-task/retry', csrf=False).status == 403



def due_names(at):
    """What the consumer's scheduler would enqueue at `at`."""
    with database.connection_context():
        due = huey.read_periodic(at)
    return {task.name for task in due}


def test_a_paused_job_is_not_enqueued_by_the_scheduler_until_resumed(admin):
    a_minute = datetime.datetime.utcnow().replace(second=0, microsecond=0)
    assert 'housekeeping' in due_names(a_minute)  # it is due every minute
    try:
        resp = admin.post('/api/jobs/housekeeping/pause')
        assert resp.status == 200, resp
        assert resp.json['paused'] is True
        assert resp.json['next_run_at'] is None
        assert periodic_item(admin, 'housekeeping')['paused'] is True
        assert 'housekeeping' not in due_names(a_minute)
        assert 'Resume' in admin.get('/admin/status').text
    finally:
        resp = admin.post('/api/jobs/housekeeping/resume')
    assert resp.status == 200
    assert resp.json['paused'] is False
    assert is_iso_with_offset(resp.json['next_run_at'])
    assert 'housekeeping' in due_names(a_minute)


def test_a_paused_job_can_still_be_run_now(admin, worker):
    try:
        assert admin.post('/api/jobs/monthly_reports/pause').status == 200
        resp = admin.post('/api/jobs/monthly_reports/run', {'month': '2020-02'})
        assert resp.status == 202
        wait_until(lambda: run_of(admin, resp.json['task_id'], 'success'), timeout=15,
                   message='manual run')
    finally:
        assert admin.post('/api/jobs/monthly_reports/resume').status == 200


@pytest.mark.parametrize('action', ['pause', 'resume'])
def test_pausing_needs_an_admin_a_token_and_a_real_job(admin, patient, action):
    assert admin.post(f'/api/jobs/no_such_job/{action}').status == 404
    assert patient.post(f'/api/jobs/housekeeping/{action}').status == 403
    assert admin.post(f'/api/jobs/housekeeping/{action}', csrf=False).status == 403



def test_status_page_answers_at_a_glance(admin, worker):
    wait_until(lambda: snapshot(admin)['worker']['alive'], timeout=15, message='heartbeat')
    resp = admin.get('/admin/status')
    assert resp.status == 200
    html = resp.text
    for text in ('Background jobs', 'Queue', 'Worker', 'Running', 'Scheduled jobs',
                 'daily_reminders', 'monthly_reports', 'Run now', 'Pause', 'Recent runs',
                 'Failures', 'Outbox', 'href="/admin/outbox"', '/static/status.js'):
        assert text in html, text


def test_status_page_is_for_admins(patient, anon):
    assert patient.get('/admin/status').status == 403
    resp = anon.get('/admin/status')
    assert resp.status in (302, 303)
    assert '/login' in resp.headers['Location']


def test_the_page_refreshes_from_a_fragment_only_admins_get(patient, doctor, anon):
    assert patient.get('/admin/status/fragment').status == 403
    assert doctor.get('/admin/status/fragment').status == 403
    resp = anon.get('/admin/status/fragment')
    assert resp.status in (302, 303)
    assert '/login' in resp.headers['Location']


def test_the_fragment_has_the_same_jobs_as_the_json(admin):
    try:
        assert admin.post('/api/jobs/scheduled_reports/pause').status == 200
        resp = admin.get('/admin/status/fragment')
        jobs = snapshot(admin)['periodic']
    finally:
        assert admin.post('/api/jobs/scheduled_reports/resume').status == 200
    assert resp.status == 200
    assert '<html' not in resp.text and 'class="status-board"' in resp.text
    rows = re.findall(r'<tr data-job="([a-z_]+)">(.*?)</tr>', resp.text, re.S)
    assert [name for name, _ in rows] == [job['name'] for job in jobs]
    for (name, row), job in zip(rows, jobs):
        assert f'Run now: {name}' in row
        assert (f'Resume: {name}' in row) == job['paused'], name
        assert (f'Pause: {name}' in row) != job['paused'], name


def test_a_pause_survives_a_queue_storage_that_lost_it(admin):
    a_minute = datetime.datetime.utcnow().replace(second=0, microsecond=0)
    try:
        assert admin.post('/api/jobs/housekeeping/pause').status == 200
        huey.resume_periodic(huey.periodic_classes['housekeeping'])  # e.g. Redis restarted empty
        assert 'housekeeping' in due_names(a_minute)
        with database.connection_context():
            task_control.apply_recorded_pauses(huey)  # what a consumer does when it starts
        assert 'housekeeping' not in due_names(a_minute)
    finally:
        assert admin.post('/api/jobs/housekeeping/resume').status == 200
    assert 'housekeeping' in due_names(a_minute)


def test_status_script_is_served_from_static_without_a_cdn(anon):
    resp = anon.get('/static/status.js')
    assert resp.status == 200
    assert '/api/admin/status' in resp.text or 'data-url' in resp.text
    assert 'https://' not in resp.text and 'http://' not in resp.text



def test_plain_crontabs_are_described_in_words():
    from huey import crontab

    def words(**cron):
        validate = crontab(**cron)

        class Probe:
            def validate_datetime(self, ts):
                return validate(ts)
        now = datetime.datetime(2026, 3, 10, 12, 0, 30, tzinfo=datetime.timezone.utc)
        return status.describe_cron(status.cron_matches(Probe, now))

    assert words() == 'every minute'
    assert words(minute='*/5') == 'every 5 minutes'
    assert words(minute='17') == 'every hour at :17'
    assert words(minute='30', hour='2') == 'every day at 02:30 UTC'
    assert words(minute='0', hour='6', day_of_week='1') == 'every Monday at 06:00 UTC'


def test_run_now_while_the_job_runs_says_so_instead_of_queuing_a_skipped_run(clocked_site):
    site = clocked_site
    admin = site.login(site.user('admin'))
    slot = site.start.date().isoformat()  # "Run now" covers today's reminders
    with database.connection_context():
        run = JobRun.create(job='daily_reminders', slot=slot, status='running',
                            owner=identity(), attempts=1,
                            started_at=site.start.replace(tzinfo=None))
    path = '/admin/status/jobs/daily_reminders/run'
    resp = submit(admin, path, {'csrf_token': admin.csrf_token})
    assert resp.status in (302, 303) and location(resp) == '/admin/status'
    since = site.start.strftime('%H:%M')  # clinic time is UTC in the tests
    assert (f'Daily reminders is running already (since {since}); it was not queued again.'
            in admin.get('/admin/status').text)

    with database.connection_context():
        JobRun.update(status='success', finished_at=utcnow()).where(JobRun.id == run.id).execute()
    submit(admin, path, {'csrf_token': admin.csrf_token})
    assert 'Daily reminders queued to run now.' in admin.get('/admin/status').text
