"""The audit trail over real HTTP: every audited action writes exactly one
entry with the right actor, action, subject and target, through the JSON API
and through the HTML form alike, and through the services called with no
request at all; a refused change writes nothing; a patient sees who accessed
their record; nobody else reads the trail; no entry holds medical text or
secrets."""
import datetime
import uuid
from urllib.parse import urlencode

import pytest

from app.clock import Clock
from app.db import database
from app.errors import ApiError
from app.models import (Appointment, AuditEvent, Export, LoginThrottle, MonthlyReport,
                        OutboxAttachment, OutboxMessage, ReportExecution, ScheduledReport, User)
from app.services import accounts, appointments, audit, report_runs
from tests.client import Client
from tests.conftest import PASSWORD, unique_email, wait_until

DAY = datetime.timedelta(days=1)
COLUMNS = {'id', 'at', 'actor', 'actor_role', 'action', 'subject_patient', 'target', 'ip',
           'detail'}


@pytest.fixture
def today(settings):
    return Clock(settings.tz).today()


@pytest.fixture(autouse=True)
def forget_login_failures():
    """Wrong logins count against the test client's address too."""
    started = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    yield
    with database.connection_context():
        LoginThrottle.delete().where(LoginThrottle.last_try_at >= started).execute()


@pytest.fixture
def staff(base_url, make_user):
    def make(role='doctor'):
        return make_user(base_url, role, name=f'{role.title()} {uuid.uuid4().hex[:6]}')
    return make


def trail(admin, **filters):
    resp = admin.get('/api/audit?' + urlencode({'limit': 1000, **filters}))
    assert resp.status == 200, resp
    return resp.json['items']


def entries_by(admin, client, **filters):
    return trail(admin, actor_id=client.user['id'], **filters)


def brief(items):
    """(action, actor id, patient id, target) of each entry, oldest first."""
    return [(e['action'], e['actor'] and e['actor']['id'], e['patient'] and e['patient']['id'],
             e['target']) for e in reversed(items)]


def open_visit(doctor, patient, day, time='10:00', reason=None):
    with database.connection_context():
        return Appointment.create(doctor=doctor.user['id'], patient=patient.user['id'],
                                  date=day, time=time, status='booked', reason=reason).id


def form_post(client, path, fields):
    """A browser form post: urlencoded, the token in a field, no header."""
    return client.post(path, data=urlencode({'csrf_token': client.csrf_token, **fields}),
                       csrf=False)


def all_columns_text():
    with database.connection_context():
        rows = AuditEvent.select().tuples()
        return '\n'.join('|'.join('' if v is None else str(v) for v in row) for row in rows)


def test_login_logout_and_failed_logins_write_one_entry_each_via_api_and_form(
        base_url, admin, patient):
    pid = patient.user['id']
    api_login = Client(base_url).login(patient.user['email'], PASSWORD)
    form_login = Client(base_url)
    resp = form_login.post('/login', data=urlencode({'email': patient.user['email'],
                                                     'password': PASSWORD}), csrf=False)
    assert resp.status in (302, 303)
    assert api_login.post('/api/logout').status == 200
    form_login.csrf_token = form_login.get('/api/me').json['csrf_token']
    assert form_post(form_login, '/logout', {}).status in (302, 303)

    # fixture login + API login + form login, then one logout each way
    assert brief(entries_by(admin, patient)) == [
        ('login', pid, None, None), ('login', pid, None, None), ('login', pid, None, None),
        ('logout', pid, None, None), ('logout', pid, None, None)]
    assert all(e['actor']['role'] == 'patient' and e['ip'] == '127.0.0.1'
               for e in entries_by(admin, patient))

    wrong = {'email': patient.user['email'], 'password': 'not-the-password'}
    assert Client(base_url).post('/api/login', wrong).status == 401
    assert Client(base_url).post('/login', data=urlencode(wrong), csrf=False).status == 401
    failed = trail(admin, patient_id=pid, action='login.failed')
    assert brief(failed) == [('login.failed', None, pid, f'user:{pid}')] * 2


def test_failed_login_with_an_unknown_email_stores_no_email(base_url, admin):
    stranger = unique_email('nobody')
    resp = Client(base_url).post('/api/login', {'email': stranger, 'password': 'guess-123'})
    assert resp.status == 401
    newest = trail(admin, action='login.failed', limit=1)[0]
    assert (newest['actor'], newest['patient'], newest['target']) == (None, None, None)
    assert stranger not in all_columns_text()
    assert 'guess-123' not in all_columns_text()


def test_failed_login_to_a_doctors_account_points_at_the_account_not_a_patient(
        base_url, admin, staff):
    doctor = staff('doctor')
    resp = Client(base_url).post('/api/login', {'email': doctor.user['email'],
                                                'password': 'wrong-password'})
    assert resp.status == 401
    newest = trail(admin, action='login.failed', limit=1)[0]
    assert (newest['actor'], newest['patient'], newest['target']) == (
        None, None, f'user:{doctor.user["id"]}')


def test_doctor_and_admin_opening_an_appointment_write_one_view_each(
        admin, patient, staff, today):
    doctor = staff('doctor')
    visit = open_visit(doctor, patient, today)
    pid, target = patient.user['id'], f'appointment:{visit}'

    assert doctor.get(f'/api/appointments/{visit}').status == 200
    assert doctor.get(f'/doctor/appointments/{visit}').status == 200
    assert admin.get(f'/api/appointments/{visit}').status == 200

    assert brief(entries_by(admin, doctor, action='appointment.view')) == [
        ('appointment.view', doctor.user['id'], pid, target)] * 2
    assert brief(entries_by(admin, admin, action='appointment.view')) == [
        ('appointment.view', admin.user['id'], pid, target)]


def test_visit_page_lists_earlier_visits_under_its_one_view_entry(admin, patient, staff, today):
    doctor = staff('doctor')
    earlier = [open_visit(doctor, patient, today - (i + 1) * DAY) for i in range(7)]
    with database.connection_context():
        Appointment.update(status='completed').where(Appointment.id.in_(earlier)).execute()
    visit = open_visit(doctor, patient, today)
    html = doctor.get(f'/doctor/appointments/{visit}').text
    assert 'Earlier visits with you' in html
    assert html.count('class="appt appt-past"') == 5
    assert [e['action'] for e in entries_by(admin, doctor)] == ['appointment.view', 'login']


def test_patient_reading_their_own_record_and_a_doctors_schedule_write_nothing(
        admin, patient, staff, today):
    doctor = staff('doctor')
    visit = open_visit(doctor, patient, today)
    assert patient.get(f'/api/appointments/{visit}').status == 200
    assert patient.get('/patient').status == 200
    assert patient.get('/api/appointments').status == 200
    assert doctor.get('/doctor').status == 200
    assert doctor.get('/api/appointments?date=' + today.isoformat()).status == 200
    assert entries_by(admin, patient, action='appointment.view') == []
    assert [e['action'] for e in entries_by(admin, doctor)] == ['login']


def test_another_doctors_appointment_is_404_and_writes_nothing(admin, patient, staff, today):
    owner, other = staff('doctor'), staff('doctor')
    visit = open_visit(owner, patient, today)
    assert other.get(f'/api/appointments/{visit}').status == 404
    assert other.get(f'/doctor/appointments/{visit}').status == 404
    assert [e['action'] for e in entries_by(admin, other)] == ['login']


def test_listing_one_patients_appointments_is_a_history_view_other_lists_are_not(
        admin, patient, staff, today):
    doctor = staff('doctor')
    pid = patient.user['id']
    open_visit(doctor, patient, today)
    assert admin.get(f'/api/appointments?patient_id={pid}').status == 200
    assert admin.get(f'/admin?patient_id={pid}').status == 200
    assert doctor.get(f'/api/appointments?patient_id={pid}').status == 200
    assert admin.get(f'/api/appointments?doctor_id={doctor.user["id"]}').status == 200
    assert admin.get('/admin').status == 200

    target = f'patient:{pid}'
    assert brief(entries_by(admin, admin, action='history.view')) == [
        ('history.view', admin.user['id'], pid, target)] * 2
    assert brief(entries_by(admin, doctor, action='history.view')) == [
        ('history.view', doctor.user['id'], pid, target)]


def test_booking_and_cancelling_via_api_and_form_write_one_entry_each(
        admin, patient, staff, today):
    doctor = staff('doctor')
    pid, did = patient.user['id'], doctor.user['id']
    day = (today + 2 * DAY).isoformat()

    booked = patient.post('/api/appointments', {'doctor_id': did, 'date': day, 'time': '10:00'})
    assert booked.status == 201
    assert patient.post(f'/api/appointments/{booked.json["id"]}/cancel').status == 200
    resp = form_post(patient, '/patient/appointments',
                     {'doctor_id': did, 'date': day, 'time': '11:00'})
    assert resp.status in (302, 303)
    by_form = patient.get(f'/api/appointments?doctor_id={did}&status=booked').json['items'][0]
    resp = form_post(patient, f'/patient/appointments/{by_form["id"]}/cancel', {})
    assert resp.status in (302, 303)
    for_patient = admin.post('/api/appointments', {'doctor_id': did, 'date': day,
                                                   'time': '12:00', 'patient_id': pid})
    assert for_patient.status == 201
    assert admin.post(f'/api/appointments/{for_patient.json["id"]}/cancel').status == 200

    first, second, third = (f'appointment:{a}' for a in
                            (booked.json['id'], by_form['id'], for_patient.json['id']))
    assert brief(entries_by(admin, patient))[1:] == [
        ('appointment.book', pid, pid, first), ('appointment.cancel', pid, pid, first),
        ('appointment.book', pid, pid, second), ('appointment.cancel', pid, pid, second)]
    assert brief(entries_by(admin, admin))[1:] == [
        ('appointment.book', admin.user['id'], pid, third),
        ('appointment.cancel', admin.user['id'], pid, third)]


def test_refused_booking_or_cancel_writes_nothing(admin, patient, staff, today):
    doctor = staff('doctor')
    day = (today + 3 * DAY).isoformat()
    body = {'doctor_id': doctor.user['id'], 'date': day, 'time': '10:00'}
    assert patient.post('/api/appointments', body).status == 201
    assert patient.post('/api/appointments', body).status == 409
    assert patient.post('/api/appointments', {**body, 'date': '2001-01-01'}).status == 400
    done = open_visit(doctor, patient, today - DAY)
    with database.connection_context():
        Appointment.update(status='completed').where(Appointment.id == done).execute()
    assert patient.post(f'/api/appointments/{done}/cancel').status == 409
    assert [e['action'] for e in entries_by(admin, patient)] == ['appointment.book', 'login']


def test_completing_and_no_show_via_api_and_form_write_one_entry_each(
        admin, patient, staff, today):
    doctor = staff('doctor')
    pid, did = patient.user['id'], doctor.user['id']
    visits = [open_visit(doctor, patient, today - DAY, f'{9 + i:02d}:00') for i in range(4)]
    record = {'diagnosis': 'Audit-test otitis', 'treatment': 'Drops', 'prescription': 'Cipro'}

    assert doctor.post(f'/api/appointments/{visits[0]}/complete', record).status == 200
    assert form_post(doctor, f'/doctor/appointments/{visits[1]}/complete',
                     record).status in (302, 303)
    assert doctor.post(f'/api/appointments/{visits[2]}/no-show').status == 200
    assert form_post(doctor, f'/doctor/appointments/{visits[3]}/no-show',
                     {}).status in (302, 303)
    # Refused: already completed, no entry.
    assert doctor.post(f'/api/appointments/{visits[0]}/complete', record).status == 409

    assert brief(entries_by(admin, doctor))[1:] == [
        ('treatment.record', did, pid, f'appointment:{visits[0]}'),
        ('treatment.record', did, pid, f'appointment:{visits[1]}'),
        ('appointment.no_show', did, pid, f'appointment:{visits[2]}'),
        ('appointment.no_show', did, pid, f'appointment:{visits[3]}')]
    assert 'Audit-test otitis' not in all_columns_text()


def wait_done(client, status_url):
    def finished():
        body = client.get(status_url).json
        return body if body['status'] in ('done', 'failed') else None
    return wait_until(finished, 30, interval=0.02, message='export to finish')


def test_exports_and_their_downloads_write_one_entry_each(worker, admin, patient):
    pid = patient.user['id']
    own = patient.post('/api/exports').json
    done = wait_done(patient, own['status_url'])
    assert done['status'] == 'done', done
    assert patient.get(done['download_url']).status == 200
    assert patient.get(f'/exports/{own["task_id"]}/download').status == 200
    for_patient = admin.post('/api/exports', {'patient_id': pid}).json
    everything = admin.post('/api/exports', {'scope': 'all'}).json
    for started in (for_patient, everything):
        final = wait_done(admin, started['status_url'])
        assert admin.get(final['download_url']).status == 200

    own_target = f'export:{own["task_id"]}'
    assert brief(entries_by(admin, patient))[1:] == [
        ('export.create', pid, pid, own_target), ('export.download', pid, pid, own_target),
        ('export.download', pid, pid, own_target)]
    aid = admin.user['id']
    assert brief(entries_by(admin, admin, action='export.create'))[-2:] == [
        ('export.create', aid, pid, f'export:{for_patient["task_id"]}'),
        ('export.create', aid, None, f'export:{everything["task_id"]}')]
    assert brief(entries_by(admin, admin, action='export.download'))[-2:] == [
        ('export.download', aid, pid, f'export:{for_patient["task_id"]}'),
        ('export.download', aid, None, f'export:{everything["task_id"]}')]


def test_opening_a_monthly_report_writes_one_entry_without_a_subject(admin, staff):
    doctor = staff('doctor')
    with database.connection_context():
        report = MonthlyReport.create(doctor=doctor.user['id'], month='2020-01',
                                      html='<p>Audit-test report</p>')
    assert doctor.get(f'/monthly-reports/{report.id}').status == 200
    assert admin.get(f'/monthly-reports/{report.id}').status == 200
    assert doctor.get('/api/monthly-reports').status == 200
    target = f'monthly_report:{report.id}'
    assert brief(entries_by(admin, doctor))[1:] == [
        ('monthly_report.view', doctor.user['id'], None, target)]
    assert brief(entries_by(admin, admin, action='monthly_report.view')) == [
        ('monthly_report.view', admin.user['id'], None, target)]


def test_downloading_a_scheduled_report_file_writes_one_entry(settings, admin, today):
    with database.connection_context():
        definition = ScheduledReport.create(
            name='Audit test', kind='treatments', frequency='daily', time='07:00',
            recipients=['audit@example.test'], format='csv')
        execution = ReportExecution.create(
            report=definition, triggered_by='manual', task_id=uuid.uuid4().hex,
            status='success', period_start=today, period_end=today,
            file_name=f'audit-test-{uuid.uuid4().hex}.csv')
    (report_runs.files_dir(settings) / execution.file_name).write_text('a,b\n')
    path = f'/api/reports/{definition.id}/executions/{execution.id}/download'
    assert admin.get(path).status == 200
    assert brief(entries_by(admin, admin, action='report_file.download')) == [
        ('report_file.download', admin.user['id'], None, f'report_execution:{execution.id}')]


def test_opening_a_sent_email_and_its_attachment_writes_one_entry_each(admin):
    """Mail to an address that is nobody's, about nobody: no subject."""
    with database.connection_context():
        message = OutboxMessage.create(dedupe_key=f'audit-test:{uuid.uuid4().hex}',
                                       to='someone@example.test', subject='Your history',
                                       text_body='Attached.', status='sent')
        attachment = OutboxAttachment.create(message=message, filename='history.csv',
                                             content_type='text/csv', content=b'date\n')
    assert admin.get(f'/admin/outbox/{message.id}').status == 200
    assert admin.get(f'/admin/outbox/{message.id}/attachments/{attachment.id}').status == 200
    assert admin.get('/admin/outbox').status == 200
    aid = admin.user['id']
    assert brief(entries_by(admin, admin))[1:] == [
        ('outbox_message.view', aid, None, f'outbox_message:{message.id}'),
        ('outbox_attachment.download', aid, None, f'outbox_attachment:{attachment.id}')]


def sent_mail(key, to, filename='history.csv'):
    with database.connection_context():
        message = OutboxMessage.create(dedupe_key=key, to=to, subject='About you',
                                       text_body='Attached.', status='sent')
        attachment = OutboxAttachment.create(message=message, filename=filename,
                                             content_type='text/csv', content=b'date\n')
    return message.id, attachment.id


def test_admin_opening_a_patients_mail_is_listed_for_that_patient(
        worker, base_url, admin, make_user, staff, today):
    alice = make_user(base_url, 'patient', name='Alice Mail')
    bob = make_user(base_url, 'patient', name='Bob Mail')
    pid = alice.user['id']
    doctor = staff('doctor')
    export = admin.post('/api/exports', {'patient_id': pid}).json
    assert wait_done(admin, export['status_url'])['status'] == 'done'
    appointment = open_visit(doctor, alice, today)
    with database.connection_context():
        export_id = Export.get(Export.task_id == export['task_id']).id
        # The admin is the recipient of the mail of their export of Alice's history.
        # It names her but attaches nothing (other people's data goes by link).
        ready = OutboxMessage.get(OutboxMessage.dedupe_key == f'export:{export_id}')
    mails = [
        (ready.id, None),
        sent_mail(f'reschedule:{appointment}:{today}T10:00:1', 'old-address@example.test'),
        sent_mail(f'reminder:{pid}:{today}', alice.user['email']),
        sent_mail(f'account-mail:{uuid.uuid4().hex}', alice.user['email']),
    ]
    monthly = sent_mail(f'monthly:{doctor.user["id"]}:2020-01', alice.user['email'])
    for message_id, attachment_id in [*mails, monthly]:
        assert admin.get(f'/admin/outbox/{message_id}').status == 200
        if attachment_id:
            path = f'/admin/outbox/{message_id}/attachments/{attachment_id}'
            assert admin.get(path).status == 200

    expected = []
    for message_id, attachment_id in reversed(mails):
        if attachment_id:
            expected.append(('outbox_attachment.download', f'outbox_attachment:{attachment_id}'))
        expected.append(('outbox_message.view', f'outbox_message:{message_id}'))
    mine = [(e['action'], e['target']) for e in alice.get('/api/me/audit?limit=100').json['items']
            if e['action'].startswith('outbox_')]
    assert mine == expected
    assert not [e for e in bob.get('/api/me/audit').json['items']
                if e['action'].startswith('outbox_')]
    page = alice.get('/patient').text
    assert 'opened an email the clinic sent about you' in page
    assert 'downloaded the attachment of an email about you' in page
    monthly_entries = trail(admin, action='outbox_message.view')
    [about_many] = [e for e in monthly_entries if e['target'] == f'outbox_message:{monthly[0]}']
    assert about_many['patient'] is None  # a doctor's monthly report is about many patients


def test_patient_sees_only_what_others_did_with_their_own_record(
        base_url, admin, make_user, staff, today):
    alice = make_user(base_url, 'patient', name='Alice Audit')
    bob = make_user(base_url, 'patient', name='Bob Audit')
    doctor = staff('doctor')
    alices, bobs = open_visit(doctor, alice, today), open_visit(doctor, bob, today, '11:00')
    alice.get(f'/api/appointments/{alices}')  # her own reading: not listed
    alice.post('/api/appointments', {'doctor_id': doctor.user['id'],
                                     'date': (today + DAY).isoformat(), 'time': '15:00'})
    doctor.get(f'/api/appointments/{alices}')
    doctor.get(f'/api/appointments/{bobs}')
    Client(base_url).post('/api/login', {'email': alice.user['email'], 'password': 'nope-nope'})

    resp = alice.get('/api/me/audit')
    assert resp.status == 200
    items = resp.json['items']
    assert [(e['action'], e['actor'] and e['actor']['id']) for e in items] == [
        ('login.failed', None), ('appointment.view', doctor.user['id'])]
    assert items[1]['target'] == f'appointment:{alices}'
    assert all(set(e) == {'id', 'at', 'actor', 'action', 'target'} for e in items)
    assert resp.json['total'] == 2 and resp.json['offset'] == 0

    page = alice.get('/patient').text
    assert 'Who accessed my record' in page
    assert doctor.user['name'] in page and 'opened one of your appointments' in page
    assert 'wrong password' in page
    assert [e['target'] for e in bob.get('/api/me/audit').json['items']] == [
        f'appointment:{bobs}']


@pytest.mark.parametrize('role', ['patient', 'doctor'])
def test_only_admins_read_the_trail(base_url, make_user, role):
    client = make_user(base_url, role)
    assert client.get('/api/audit').status == 403
    assert client.get('/admin/audit').status == 403
    if role == 'doctor':
        assert client.get('/api/me/audit').status == 403


def test_not_logged_in_gets_401_or_the_login_page(anon):
    assert anon.get('/api/audit').status == 401
    assert anon.get('/api/me/audit').status == 401
    assert anon.get('/admin/audit').status in (302, 303)


def test_admin_filters_by_actor_patient_action_and_clinic_dates_and_pages(
        admin, patient, staff, today):
    doctor = staff('doctor')
    pid = patient.user['id']
    visits = [open_visit(doctor, patient, today, f'1{i}:00') for i in range(3)]
    for visit in visits:
        doctor.get(f'/api/appointments/{visit}')

    first = admin.get(f'/api/audit?patient_id={pid}&action=appointment.view&limit=2')
    assert first.status == 200
    assert (first.json['total'], first.json['limit'], first.json['offset']) == (3, 2, 0)
    second = admin.get(f'/api/audit?patient_id={pid}&action=appointment.view&limit=2&offset=2')
    targets = [e['target'] for e in first.json['items'] + second.json['items']]
    assert targets == [f'appointment:{v}' for v in reversed(visits)]  # newest first
    item = first.json['items'][0]
    assert set(item) == {'id', 'at', 'actor', 'action', 'patient', 'target', 'ip'}
    assert item['actor'] == {'id': doctor.user['id'], 'name': doctor.user['name'],
                             'role': 'doctor'}
    assert item['patient'] == {'id': pid, 'name': patient.user['name']}
    assert datetime.datetime.fromisoformat(item['at']).utcoffset() is not None

    day = today.isoformat()
    assert len(trail(admin, actor_id=doctor.user['id'], **{'from': day, 'to': day})) == 4
    yesterday = (today - DAY).isoformat()
    assert trail(admin, actor_id=doctor.user['id'], to=yesterday) == []

    for field, value in (('actor_id', 'x'), ('patient_id', '-1'), ('action', 'delete'),
                         ('from', '2026-13-01'), ('limit', 'lots')):
        resp = admin.get(f'/api/audit?{field}={value}')
        assert resp.status == 400 and field in resp.json['error'], (field, resp)


def test_admin_audit_page_shows_filters_names_and_a_nav_link(admin, patient, staff, today):
    doctor = staff('doctor')
    visit = open_visit(doctor, patient, today)
    doctor.get(f'/doctor/appointments/{visit}')

    page = admin.get(f'/admin/audit?patient_id={patient.user["id"]}')
    assert page.status == 200 and page.headers['Content-Type'].startswith('text/html')
    html = page.text
    assert '<h1>Audit trail</h1>' in html and 'href="/admin/audit"' in html
    assert 'Opened an appointment' in html and f'appointment:{visit}' in html
    assert doctor.user['name'] in html and patient.user['name'] in html
    bad = admin.get('/admin/audit?from=yesterday')
    assert bad.status == 400 and 'field-error' in bad.text


def test_entries_hold_references_only(base_url, admin, patient, staff, today):
    """The columns are the documented ones, and after logins, a visit with a
    diagnosis and an export none of the secrets or medical words is in them."""
    assert set(AuditEvent._meta.fields) == COLUMNS
    doctor = staff('doctor')
    visit = open_visit(doctor, patient, today, reason='Audit-secret reason')
    doctor.post(f'/api/appointments/{visit}/complete',
                {'diagnosis': 'Audit-secret diagnosis', 'treatment': 'Audit-secret treatment',
                 'prescription': 'Audit-secret prescription'})
    patient.get('/patient')
    text = all_columns_text()
    assert 'Audit-secret' not in text
    assert PASSWORD not in text
    for client in (admin, patient, doctor):
        assert client.csrf_token not in text
        assert client.cookie('clinicdesk_session').value not in text
        assert client.user['email'] not in text
    with database.connection_context():
        assert all(row.target is None or row.target.split(':')[0] in
                   ('appointment', 'patient', 'user', 'export', 'monthly_report',
                    'report_execution', 'outbox_message', 'outbox_attachment')
                   for row in AuditEvent.select())


def rows_about(target):
    return [(e.action, e.actor_id, e.subject_patient_id, e.target, e.ip)
            for e in AuditEvent.select().where(AuditEvent.target == target)
                                        .order_by(AuditEvent.id)]


def test_cancelling_through_the_service_records_it_and_a_refused_cancel_records_nothing(
        patient, staff, settings, today):
    doctor = staff('doctor')
    visit = open_visit(doctor, patient, today + 2 * DAY)
    pid, target = patient.user['id'], f'appointment:{visit}'
    with database.connection_context():
        user = User.get_by_id(pid)
        clock = Clock(settings.tz)
        appointments.cancel(settings, clock, user, visit, ip='192.0.2.7')
        assert rows_about(target) == [('appointment.cancel', pid, pid, target, '192.0.2.7')]
        with pytest.raises(ApiError) as refused:
            appointments.cancel(settings, clock, user, visit, ip='192.0.2.7')
        assert refused.value.status == 409
        assert rows_about(target) == [('appointment.cancel', pid, pid, target, '192.0.2.7')]


def test_services_called_without_the_web_record_views_changes_and_logins(
        patient, staff, settings, today):
    doctor = staff('doctor')
    visit = open_visit(doctor, patient, today - DAY)
    pid, did, target = patient.user['id'], doctor.user['id'], f'appointment:{visit}'
    clock = Clock(settings.tz)
    record = {'diagnosis': 'Audit-test sinusitis', 'treatment': 'Rest'}
    with database.connection_context():
        user = User.get_by_id(did)
        appointments.view(user, visit)
        appointments.list_for(user, {'patient_id': pid}, 10, 0)
        appointments.complete(clock, user, visit, record)
        with pytest.raises(ApiError):
            appointments.mark_no_show(settings, clock, user, visit)
        assert rows_about(target) == [('appointment.view', did, pid, target, None),
                                      ('treatment.record', did, pid, target, None)]
        assert rows_about(f'patient:{pid}') == [
            ('history.view', did, pid, f'patient:{pid}', None)]

        before = AuditEvent.select().where(AuditEvent.actor == did).count()
        _, token, _ = accounts.log_in(doctor.user['email'], PASSWORD, '192.0.2.8')
        accounts.log_out(token, '192.0.2.8')
        newest = (AuditEvent.select().where(AuditEvent.actor == did)
                  .order_by(AuditEvent.id.desc()).limit(2))
        assert [(e.action, e.ip) for e in reversed(newest)] == [
            ('login', '192.0.2.8'), ('logout', '192.0.2.8')]
        assert AuditEvent.select().where(AuditEvent.actor == did).count() == before + 2


def test_recording_refuses_free_text():
    with pytest.raises(ValueError):
        audit.record('appointment.view', None, target='diagnosis: flu')
    with pytest.raises(ValueError):
        audit.record('looked at the flu case', None)
