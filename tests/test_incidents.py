"""Alerts to the clinic (SPEC §11): an incident is opened once per (job,
kind) and mailed once through the outbox, closed when the job succeeds
again or by an admin, and listed on the status page with a resolve button.
Time is the `now` the housekeeping pass is given, as the consumer gives it
the clock's."""
import datetime
import threading
import uuid

import pytest

import tasks
from app import mail, smtp_delivery, workers
from app.db import database
from app.factory import create_app
from app.models import AuditEvent, Incident, JobRun, OutboxMessage, PeriodicJobState, User
from app.queue import huey
from app.services import accounts, housekeeping, incidents
from app.settings import ConfigError, load
from tests.client import Client
from tests.conftest import (PASSWORD, ServerThread, SmtpSink, base_env, smtp_sink,
                            unique_email, wait_until)

UTC = datetime.timezone.utc
# The scheduler of a fresh install starts on a Tuesday, 10:00 clinic time
# (the clinic is on UTC: REMINDER_TIME 08:00, BACKUP_TIME 02:30).
INSTALLED = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def alert_rows(incident):
    return list(OutboxMessage.select()
                .where(OutboxMessage.dedupe_key.startswith(f'alert:{incident.id}:')))


def open_of(job, kind):
    return list(Incident.select().where(Incident.job == job, Incident.kind == kind,
                                        Incident.resolved_at.is_null()))


def add_admin(email=None):
    email = email or unique_email('admin')
    accounts.create_or_reset_admin(email, PASSWORD)
    return email


def scheduler_started(at):
    workers.beat(periodic=True, now=at.replace(tzinfo=None))


def passes(settings, *moments):
    """Housekeeping passes at these clinic times; their reports."""
    return [housekeeping.run(settings, moment) for moment in moments]


def overdue_jobs():
    return {i.job for i in Incident.select().where(Incident.kind == 'overdue',
                                                   Incident.resolved_at.is_null())}


def test_a_fresh_install_alerts_nobody_before_its_jobs_had_their_chance(own_db):
    add_admin()
    scheduler_started(INSTALLED)
    hour = datetime.timedelta(hours=1)
    # Today's 08:00 reminders and 02:30 backup fell due before the install.
    passes(own_db, INSTALLED + datetime.timedelta(minutes=1), INSTALLED + 12 * hour)
    assert overdue_jobs() == set()
    assert OutboxMessage.select().count() == 0


def test_a_job_not_succeeding_within_its_period_plus_an_hour_is_overdue_once(own_db):
    admin = add_admin()
    scheduler_started(INSTALLED)
    next_day = datetime.datetime(2026, 3, 11, tzinfo=UTC)
    # The backup's slot came at 02:30: an hour later it is overdue, the
    # reminders (08:00) not yet.
    passes(own_db, next_day.replace(hour=3, minute=29))
    assert overdue_jobs() == set()
    passes(own_db, next_day.replace(hour=3, minute=31))
    assert overdue_jobs() == {'nightly_backup'}
    reports = passes(own_db, next_day.replace(hour=9, minute=1), next_day.replace(hour=9, minute=2))
    assert overdue_jobs() == {'nightly_backup', 'daily_reminders'}
    assert [r['alerts'] for r in reports] == [1, 0]
    for job in ('nightly_backup', 'daily_reminders'):
        incident, = open_of(job, 'overdue')
        alert, = alert_rows(incident)
        assert alert.to == admin and job in alert.subject
        assert f'{own_db.base_url}/admin/status' in alert.text_body
        assert '2026-03-11' in incident.detail


def test_an_overdue_job_closes_when_it_succeeds_and_a_paused_one_is_left_alone(own_db):
    add_admin()
    scheduler_started(INSTALLED)
    PeriodicJobState.create(name='monthly_reports', paused=True)
    april = datetime.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    passes(own_db, april)
    assert overdue_jobs() == {'daily_reminders', 'nightly_backup'}  # not the paused reports
    JobRun.create(job='daily_reminders', slot='2026-04-01', status='success',
                  started_at=april.replace(tzinfo=None),
                  finished_at=april.replace(tzinfo=None, minute=1))
    report, = passes(own_db, april.replace(minute=2))
    assert report['overdue_closed'] == 1
    assert overdue_jobs() == {'nightly_backup'}
    closed, = Incident.select().where(Incident.job == 'daily_reminders')
    assert closed.resolved_at is not None and closed.resolved_by is None


def test_a_run_that_skipped_a_bad_record_counts_as_run_for_the_overdue_check(own_db):
    """'partial': the run did its work and skipped one record (reported on
    its own); the job is not overdue for it."""
    add_admin()
    scheduler_started(INSTALLED)
    april = datetime.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    passes(own_db, april)
    assert 'daily_reminders' in overdue_jobs()
    JobRun.create(job='daily_reminders', slot='2026-04-01', status='partial',
                  started_at=april.replace(tzinfo=None),
                  finished_at=april.replace(tzinfo=None, minute=1))
    passes(own_db, april.replace(minute=2), april.replace(hour=10))
    assert 'daily_reminders' not in overdue_jobs()


def test_a_job_failing_three_times_in_a_row_opens_one_incident_until_it_succeeds(own_db):
    add_admin()
    for _ in range(2):
        assert incidents.task_ran(own_db, 'monthly_reports_for', True, False, 'ValueError') == []
    opened = incidents.task_ran(own_db, 'monthly_reports', True, True, 'ValueError')
    assert [(i.job, i.kind) for i in opened] == [('monthly_reports', 'failing')]
    assert 'ValueError' in opened[0].detail and '3 runs' in opened[0].detail
    for _ in range(5):  # the next runs fail too: no second incident, no second mail
        assert incidents.task_ran(own_db, 'monthly_reports_for', True, True, 'ValueError') == []
    assert len(alert_rows(opened[0])) == 1

    incidents.task_ran(own_db, 'monthly_reports_for', False, False)
    assert open_of('monthly_reports', 'failing') == []
    # A failure after the success starts counting again.
    assert incidents.task_ran(own_db, 'monthly_reports', True, True) == []


def test_a_failed_nightly_backup_opens_one_incident_at_once(own_db):
    add_admin()
    assert incidents.task_ran(own_db, 'nightly_backup', True, False, 'OSError') == []  # retried
    opened = incidents.task_ran(own_db, 'nightly_backup', True, True, 'OSError')
    assert [i.kind for i in opened] == ['backup_failed']
    assert incidents.task_ran(own_db, 'nightly_backup_for', True, True, 'OSError') != []  # failing
    assert len(open_of('nightly_backup', 'backup_failed')) == 1
    incidents.task_ran(own_db, 'nightly_backup_for', False, False)
    assert Incident.select().where(Incident.resolved_at.is_null()).count() == 0


def test_two_workers_noticing_at_once_open_and_mail_one_incident(own_db):
    add_admin()
    results = []

    def notice():
        with database.connection_context():
            results.append(incidents.open_incident(own_db, 'housekeeping', 'failing', 'x'))

    threads = [threading.Thread(target=notice) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [r for r in results if r is not None]
    assert len(results) == 4 and len(winners) == 1
    assert len(alert_rows(winners[0])) == 1


def test_alert_email_takes_the_place_of_the_admins(own_db):
    add_admin()
    settings = own_db.with_changes(alert_email='ops@clinic.example')
    incident = incidents.open_incident(settings, 'housekeeping', 'failing', '3 runs')
    assert [m.to for m in alert_rows(incident)] == ['ops@clinic.example']


def test_an_inactive_admin_gets_no_alert(own_db):
    active, gone = add_admin(), add_admin()
    User.update(active=False).where(User.email == gone).execute()
    incident = incidents.open_incident(own_db, 'housekeeping', 'failing', '3 runs')
    assert [m.to for m in alert_rows(incident)] == [active]


@pytest.fixture
def sink():
    with smtp_sink(SmtpSink()) as handler:
        yield handler


def deliver(settings):
    """What tasks.deliver_outbox does, on this test's database and server."""
    report = smtp_delivery.deliver_due(settings)
    incidents.mail_refused(settings, report['failed_ids'])
    return report


def test_refused_mail_opens_one_incident_and_one_alert_not_a_storm(own_db, sink):
    admin = add_admin()
    settings = own_db.with_changes(smtp_host='127.0.0.1', smtp_port=sink.port)
    for n in range(3):
        bad = f'gone{n}-{uuid.uuid4().hex[:6]}@example.test'
        sink.reject.add(bad)
        mail.queue_message(f'test:{uuid.uuid4().hex}', bad, 'Reminder', 'text')
        deliver(settings)  # refused, and the alert goes out in a later run
    deliver(settings)
    incident, = Incident.select()
    assert (incident.job, incident.kind) == ('deliver_outbox', 'mail_failing')
    assert len(sink.to(admin)) == 1
    body = sink.to(admin)[0].get_body(('plain',)).get_content()
    assert 'deliver_outbox' in body and '/admin/status' in body
    assert 'gone' not in body  # no recipient, nobody's address


def test_an_alert_that_is_refused_raises_no_alert_about_itself(own_db, sink):
    settings = own_db.with_changes(smtp_host='127.0.0.1', smtp_port=sink.port,
                                   alert_email='ops@clinic.example')
    sink.reject.add('ops@clinic.example')
    sink.reject.add('gone@example.test')
    mail.queue_message(f'test:{uuid.uuid4().hex}', 'gone@example.test', 'Reminder', 'text')
    deliver(settings)
    first, = Incident.select()
    admin = User.get_or_none(User.email == add_admin())
    incidents.resolve_by(admin, first.id)
    for _ in range(3):  # the alert itself is refused: nothing new opens
        deliver(settings)
    assert Incident.select().count() == 1
    assert OutboxMessage.select().where(OutboxMessage.status == 'failed').count() == 2


@pytest.fixture
def own_site(own_db):
    site = ServerThread(create_app(own_db)).start()
    email = add_admin()
    admin = Client(site.url).login(email, PASSWORD)
    patient_email = unique_email('patient')
    accounts.register_patient({'email': patient_email, 'password': PASSWORD, 'name': 'Pat'})
    yield admin, Client(site.url).login(patient_email, PASSWORD), site.url
    site.stop()


def test_an_admin_resolves_an_incident_from_the_api_and_it_is_audited(own_db, own_site):
    admin, patient, _ = own_site
    incident = incidents.open_incident(own_db, 'monthly_reports', 'failing', '3 runs failed')
    listed = admin.get('/api/admin/status').json['incidents']
    assert [(i['id'], i['job'], i['kind']) for i in listed] == [
        (incident.id, 'monthly_reports', 'failing')]

    path = f'/api/incidents/{incident.id}/resolve'
    assert patient.post(path).status == 403
    assert admin.post(path, csrf=False).status == 403
    assert admin.post('/api/incidents/999999/resolve').status == 404
    resp = admin.post(path)
    assert resp.status == 200 and resp.json['resolved_at'] and resp.json['resolved_by']
    assert admin.post(path).status == 409
    assert admin.get('/api/admin/status').json['incidents'] == []
    event = AuditEvent.get(AuditEvent.action == 'incident.resolve')
    assert event.target == f'incident:{incident.id}' and event.actor_id == resp.json['resolved_by']
    # Trouble that comes back is a new incident, mailed again.
    again = incidents.open_incident(own_db, 'monthly_reports', 'failing', '3 runs failed')
    assert again is not None and again.id != incident.id and alert_rows(again)


def test_the_status_page_lists_open_incidents_with_a_resolve_button(own_db, own_site):
    admin, patient, _ = own_site
    incident = incidents.open_incident(own_db, 'nightly_backup', 'backup_failed',
                                       'the run failed after its retries (OSError)')
    for path in ('/admin/status', '/admin/status/fragment'):
        page = admin.get(path)
        assert page.status == 200
        assert 'Open incidents' in page.text and 'Backup failed' in page.text
        assert f'/admin/status/incidents/{incident.id}/resolve' in page.text
    form = admin.post(f'/admin/status/incidents/{incident.id}/resolve',
                      data=f'csrf_token={admin.csrf_token}',
                      headers={'Content-Type': 'application/x-www-form-urlencoded'}, csrf=False)
    assert form.status in (302, 303)
    assert 'No open incidents' in admin.get('/admin/status').text
    assert patient.post(f'/admin/status/incidents/{incident.id}/resolve').status == 403


def fail_reminders_now():
    """The on-demand reminders with a day it cannot read and no retries:
    it fails at once, the way a broken job does."""
    task = tasks.ON_DEMAND['daily_reminders'].task_class(args=('not-a-day',), retries=0)
    huey.enqueue(task)
    return task.id


def reminders_incidents(admin):
    return [i for i in admin.get('/api/admin/status').json['incidents']
            if i['job'] == 'daily_reminders' and i['kind'] == 'failing']


def test_a_consumer_opens_mails_once_and_closes_a_failing_job(admin, worker, smtp, settings):
    with database.connection_context():
        Incident.update(resolved_at=datetime.datetime.now()).where(
            Incident.job == 'daily_reminders').execute()  # other files' failures
    me = admin.get('/api/me').json['user']['email']
    for _ in range(3):
        task_id = fail_reminders_now()
        wait_until(lambda: admin.get(f'/api/tasks/{task_id}').json['status'] == 'failed', 20,
                   message='failed run')
    opened, = wait_until(lambda: reminders_incidents(admin), 20, message='incident')
    wait_until(lambda: [m for m in smtp.to(me) if 'daily_reminders' in m['Subject']], 30,
               message='alert delivered')
    for _ in range(3):  # reruns fail again: the same incident, no second mail
        task_id = fail_reminders_now()
        wait_until(lambda: admin.get(f'/api/tasks/{task_id}').json['status'] == 'failed', 20,
                   message='failed run')
    assert [i['id'] for i in reminders_incidents(admin)] == [opened['id']]
    assert len([m for m in smtp.to(me) if 'daily_reminders' in m['Subject']]) == 1

    today = datetime.datetime.now(settings.tz).date().isoformat()
    task_id = admin.post('/api/jobs/daily_reminders/run', {'date': today}).json['task_id']
    wait_until(lambda: admin.get(f'/api/tasks/{task_id}').json['status'] == 'success', 30,
               message='successful run')
    wait_until(lambda: reminders_incidents(admin) == [], 10, message='incident closed')
    with database.connection_context():
        closed = Incident.get_by_id(opened['id'])
    assert closed.resolved_at is not None and closed.resolved_by is None


def test_a_bad_alert_email_stops_start_up_naming_it(tmp_path):
    with pytest.raises(ConfigError, match='^ALERT_EMAIL: '):
        load(base_env(tmp_path, ALERT_EMAIL='Ops <ops@clinic.example>'))
    assert load(base_env(tmp_path, ALERT_EMAIL='Ops@Clinic.example')).alert_email == \
        'ops@clinic.example'
