"""Scheduled reports (SPEC §4, §6) over HTTP with a real consumer and SMTP
sink: every kind in every format makes a valid file with the period's rows,
every recipient gets it, a refused recipient makes the run `partial`, "Send
test" goes to the admin only; validation of every field; who may do what;
the admin pages; a transient error retried, a lasting one failing the run."""
import codecs
import csv
import datetime
import io
import re
import shutil
import uuid
import zipfile
import zlib

import pytest

from app import workers
from app.clock import fixed_clock
from app.db import database
from app.models import (Appointment, OutboxMessage, ReportExecution, ScheduledReport, Treatment,
                        User)
from app.services import report_runs
from tests.conftest import unique_email, wait_until

UTC = datetime.timezone.utc
# A day no other test uses: the reports of this module cover it alone.
DAY = datetime.date(2001, 3, 14)
HEADERS = {
    'appointments': ['date', 'time', 'patient', 'doctor', 'specialization', 'status'],
    'doctor_activity': ['doctor', 'specialization', 'booked', 'completed', 'cancelled',
                        'no_show', 'total', 'patients'],
    'treatments': ['date', 'time', 'patient', 'doctor', 'diagnosis', 'treatment',
                   'prescription'],
}
KINDS = list(HEADERS)
FORMATS = ['csv', 'xlsx', 'pdf']


def report_body(**changes):
    body = {'name': 'Daily appointments', 'kind': 'appointments', 'frequency': 'daily',
            'time': '07:00', 'recipients': [unique_email('owner')], 'format': 'csv',
            'subject': 'Clinic numbers', 'body': 'Good morning, here are the numbers.',
            'active': True}
    body.update(changes)
    return body


def create_report(admin, **changes):
    resp = admin.post('/api/reports', report_body(**changes))
    assert resp.status == 201, resp
    return resp.json


def executions(admin, report_id):
    resp = admin.get(f'/api/reports/{report_id}/executions')
    assert resp.status == 200, resp
    return resp.json


def wait_for_execution(admin, report_id, execution_id, settled=True, timeout=20):
    def done():
        for item in executions(admin, report_id):
            if item['id'] == execution_id and item['status'] != 'running' \
                    and not (settled and item['mail_pending']):
                return item
        return None
    return wait_until(done, timeout, message=f'execution {execution_id} to finish')


def attachments_of(message):
    return [(part.get_filename(), part.get_payload(decode=True))
            for part in message.iter_attachments()]


@pytest.fixture(scope='module')
def period_data(settings):
    """Two doctors and three patients with visits on DAY, and one visit the
    day after (outside the period)."""
    tag = uuid.uuid4().hex[:6]
    with database.connection_context(), database.atomic():
        def user(role, name, **extra):
            return User.create(email=unique_email(role), password_hash='-', name=name,
                               role=role, **extra)
        ada = user('doctor', f'Ada Lovelace {tag}', specialization='Cardiology')
        alan = user('doctor', f'Alan Turing {tag}', specialization='Dermatology')
        patients = [user('patient', f'Patient{n} {tag}') for n in range(3)]
        visits = [(ada, patients[0], '09:00', 'completed', ('Angina', 'Rest', 'Aspirin')),
                  (ada, patients[1], '09:30', 'completed', ('Arrhythmia', 'ECG', None)),
                  (ada, patients[2], '10:00', 'no_show', None),
                  (alan, patients[0], '11:00', 'cancelled', None),
                  (alan, patients[2], '11:30', 'booked', None)]
        for doctor, patient, hhmm, status, treatment in visits:
            appt = Appointment.create(patient=patient, doctor=doctor, date=DAY, time=hhmm,
                                      status=status)
            if treatment:
                Treatment.create(appointment=appt, diagnosis=treatment[0],
                                 treatment=treatment[1], prescription=treatment[2])
        Appointment.create(patient=patients[1], doctor=alan, status='completed',
                           date=DAY + datetime.timedelta(days=1), time='09:00')
    return {'tag': tag, 'ada': ada, 'alan': alan, 'patients': patients}


def expected_rows(kind):
    with database.connection_context():
        if kind == 'doctor_activity':
            return User.select().where(User.role == 'doctor', User.active == True).count()  # noqa: E712
        query = Appointment.select().where(Appointment.date == DAY)
        if kind == 'treatments':
            query = query.join(Treatment, on=(Treatment.appointment == Appointment.id))
        return query.count()


def csv_rows(content):
    assert content.startswith(codecs.BOM_UTF8), 'report CSVs open in Excel as UTF-8'
    return list(csv.reader(io.StringIO(content.decode('utf-8-sig'), newline='')))


def xlsx_rows(content):
    """Rows of the first sheet as lists of cell texts, blank cells as ''."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        assert book.testzip() is None
        sheet = book.read('xl/worksheets/sheet1.xml').decode('utf-8')
    rows = []
    for row in re.findall(r'<row [^>]*>(.*?)</row>', sheet, re.S):
        cells = {}
        for letter, inner in re.findall(r'<c r="([A-Z]+)\d+"[^>]*?(?:/>|>(.*?)</c>)', row, re.S):
            cells[ord(letter) - ord('A')] = re.sub(r'<[^>]+>', '', inner)
        rows.append([cells.get(i, '') for i in range(max(cells) + 1)] if cells else [])
    return rows


def pdf_text(content):
    """Every page stream, inflated, as text."""
    streams = re.findall(rb'stream\r?\n(.*?)\r?\nendstream', content, re.S)
    out = []
    for stream in streams:
        try:
            out.append(zlib.decompress(stream).decode('latin-1'))
        except zlib.error:
            out.append(stream.decode('latin-1'))
    return '\n'.join(out)


def check_file(kind, fmt, content, data, rows):
    ada, alan, patients = data['ada'], data['alan'], data['patients']
    if fmt == 'csv':
        table = csv_rows(content)
    elif fmt == 'xlsx':
        table = xlsx_rows(content)
    else:
        assert content.startswith(b'%PDF-') and content.rstrip().endswith(b'%%EOF')
        text = pdf_text(content)
        assert 'page 1 of' in text
        assert 'Wed 14 Mar 2001' in text  # the period, in the title block
        if kind == 'appointments':
            assert text.count(f'({DAY.isoformat()})') == rows
            for patient in patients:
                assert f'({patient.name})' in text
        elif kind == 'treatments':
            assert text.count(f'({DAY.isoformat()})') == rows
            assert '(Angina)' in text and '(Arrhythmia)' in text and '(Aspirin)' in text
        else:
            assert f'({ada.name})' in text and f'({alan.name})' in text
        return
    readable = fmt == 'xlsx'  # a sheet is for reading, the CSV keeps the codes
    words = {'no_show': 'No-show'}
    assert table[0] == ([words.get(h, h.capitalize()) for h in HEADERS[kind]] if readable
                        else HEADERS[kind])
    assert len(table) - 1 == rows
    table = [row + [''] * (len(table[0]) - len(row)) for row in table]
    by_first = {row[0]: row for row in table[1:]}
    if kind == 'appointments':
        mine = sorted((r[1], r[2], r[5]) for r in table[1:] if r[3] in (ada.name, alan.name))
        statuses = (['Completed', 'Completed', 'No-show', 'Cancelled', 'Booked'] if readable
                    else ['completed', 'completed', 'no_show', 'cancelled', 'booked'])
        assert mine == [('09:00', patients[0].name, statuses[0]),
                        ('09:30', patients[1].name, statuses[1]),
                        ('10:00', patients[2].name, statuses[2]),
                        ('11:00', patients[0].name, statuses[3]),
                        ('11:30', patients[2].name, statuses[4])]
    elif kind == 'treatments':
        mine = sorted(tuple(r[2:]) for r in table[1:])
        assert mine == [(patients[0].name, ada.name, 'Angina', 'Rest', 'Aspirin'),
                        (patients[1].name, ada.name, 'Arrhythmia', 'ECG', '')]
    else:
        assert by_first[ada.name][1:] == ['Cardiology', '0', '2', '0', '1', '3', '3']
        assert by_first[alan.name][1:] == ['Dermatology', '1', '0', '1', '0', '2', '2']


@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('kind', KINDS)
def test_each_kind_in_each_format_is_a_valid_file_with_the_periods_rows_mailed_to_all(
        worker, smtp, admin, period_data, kind, fmt):
    import tasks
    recipients = [unique_email('owner'), unique_email('manager')]
    report = create_report(admin, name=f'{kind} {fmt}', kind=kind, format=fmt,
                           recipients=recipients)
    with database.connection_context():
        # "Run now" on the day after DAY: the period is DAY.
        clock = fixed_clock(UTC, datetime.datetime(2001, 3, 15, 8, 0))
        user = User.get_by_id(admin.user['id'])
        execution = report_runs.start(ScheduledReport.get_by_id(report['id']), 'manual', user,
                                      clock)
        tasks.queue_report(execution)
    done = wait_for_execution(admin, report['id'], execution.id)
    rows = expected_rows(kind)
    assert done['status'] == 'success', done
    assert done['row_count'] == rows
    assert done['triggered_by'] == 'manual'
    assert done['duration_ms'] >= 0 and done['finished_at'] >= done['started_at']

    download = admin.get(done['download_url'])
    assert download.status == 200
    assert download.headers['Content-Type'].startswith(
        {'csv': 'text/csv', 'pdf': 'application/pdf',
         'xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'}[fmt])
    assert f'.{fmt}' in download.headers['Content-Disposition']
    check_file(kind, fmt, download.body, period_data, rows)

    for address in recipients:
        (message,) = wait_until(lambda: smtp.to(address), 10, message=f'mail to {address}')
        assert message['Subject'] == 'Clinic numbers'
        assert 'Good morning, here are the numbers.' in message.get_body(('plain',)).get_content()
        ((filename, content),) = attachments_of(message)
        assert filename.endswith(f'-2001-03-14.{fmt}')
        assert content == download.body


def test_a_permanently_refused_recipient_makes_the_run_partial(worker, smtp, admin):
    good, refused = unique_email('owner'), unique_email('gone')
    smtp.reject.add(refused)
    report = create_report(admin, recipients=[good, refused])
    started = admin.post(f'/api/reports/{report["id"]}/run')
    assert started.status == 202, started
    assert set(started.json) == {'task_id', 'execution_id'}
    done = wait_for_execution(admin, report['id'], started.json['execution_id'])
    assert done['status'] == 'partial'
    assert refused in done['error'] and '550' in done['error']
    assert done['download_url']  # the file was made
    assert len(smtp.to(good)) == 1
    assert smtp.to(refused) == []


def test_send_test_goes_to_the_requesting_admin_only(worker, smtp, admin):
    recipient = unique_email('owner')
    report = create_report(admin, recipients=[recipient], subject=None)
    started = admin.post(f'/api/reports/{report["id"]}/test')
    assert started.status == 202
    done = wait_for_execution(admin, report['id'], started.json['execution_id'])
    assert (done['status'], done['triggered_by']) == ('success', 'test')
    (message,) = wait_until(lambda: smtp.to(admin.user['email']), 10, message='test mail')
    assert message['Subject'].startswith('[Test] Daily appointments: ')
    assert 'sent only to you' in message.get_body(('plain',)).get_content()
    with database.connection_context():
        keys = [m.dedupe_key for m in OutboxMessage.select().where(
            OutboxMessage.dedupe_key.startswith(f'report:{done["id"]}:'))]
    assert keys == [f'report:{done["id"]}:{admin.user["email"]}']
    assert smtp.to(recipient) == []


def test_admin_creates_lists_updates_pauses_and_deletes_a_report(admin):
    created = create_report(admin, frequency='weekly', weekday=0, time='06:30',
                            recipients=['A@Example.test', 'a@example.test', 'b@example.test'])
    assert created['recipients'] == ['a@example.test', 'b@example.test']
    assert (created['weekday'], created['day']) == (0, None)
    next_run = datetime.datetime.fromisoformat(created['next_run_at'])
    assert next_run.weekday() == 0 and (next_run.hour, next_run.minute) == (6, 30)
    assert next_run.utcoffset() is not None

    listed = admin.get('/api/reports?limit=1000').json
    assert set(listed) == {'items', 'total', 'limit', 'offset'}
    assert created['id'] in [item['id'] for item in listed['items']]

    paused = admin.put(f'/api/reports/{created["id"]}', {'active': False})
    assert paused.status == 200 and paused.json['active'] is False
    assert paused.json['next_run_at'] is None
    assert paused.json['frequency'] == 'weekly'  # untouched fields are kept

    moved = admin.put(f'/api/reports/{created["id"]}',
                      {'active': True, 'frequency': 'monthly', 'day': 31})
    assert moved.status == 200
    assert (moved.json['weekday'], moved.json['day']) == (None, 31)
    assert moved.json['next_run_at'] is not None

    assert admin.delete(f'/api/reports/{created["id"]}').status == 200
    assert admin.get(f'/api/reports/{created["id"]}').status == 404
    assert admin.get(f'/api/reports/{created["id"]}/executions').status == 404


BAD_FIELDS = [
    ('name', {'name': ''}),
    ('name', {'name': 'x' * 121}),
    ('kind', {'kind': 'finance'}),
    ('kind', {'kind': None}),
    ('frequency', {'frequency': 'hourly'}),
    ('frequency', {'frequency': 7}),
    ('time', {'time': '25:00'}),
    ('time', {'time': '7am'}),
    ('time', {'time': None}),
    ('weekday', {'frequency': 'weekly'}),
    ('weekday', {'frequency': 'weekly', 'weekday': 7}),
    ('weekday', {'frequency': 'weekly', 'weekday': -1}),
    ('weekday', {'frequency': 'weekly', 'weekday': 'monday'}),
    ('day', {'frequency': 'monthly'}),
    ('day', {'frequency': 'monthly', 'day': 0}),
    ('day', {'frequency': 'monthly', 'day': 32}),
    ('day', {'frequency': 'monthly', 'day': 1.5}),
    ('recipients', {'recipients': []}),
    ('recipients', {'recipients': 'a@example.test'}),
    ('recipients', {'recipients': ['not-an-email']}),
    ('recipients', {'recipients': ['ok@example.test', 'two@@example.test']}),
    ('recipients', {'recipients': [42]}),
    ('recipients', {'recipients': [f'r{n}@example.test' for n in range(51)]}),
    ('format', {'format': 'docx'}),
    ('format', {'format': None}),
    ('subject', {'subject': 's' * 201}),
    ('subject', {'subject': 'line\nbreak'}),
    ('body', {'body': 'b' * 5001}),
    ('active', {'active': 'yes'}),
]


@pytest.mark.parametrize('field,change', BAD_FIELDS)
def test_a_bad_value_is_refused_with_a_message_naming_its_field(admin, field, change):
    resp = admin.post('/api/reports', report_body(**change))
    assert resp.status == 400, resp
    assert resp.json['error'].startswith(f'{field}: '), resp.json


def test_a_bad_update_changes_nothing(admin):
    report = create_report(admin)
    resp = admin.put(f'/api/reports/{report["id"]}', {'time': '24:00', 'name': 'Changed'})
    assert resp.status == 400 and resp.json['error'].startswith('time: ')
    assert admin.get(f'/api/reports/{report["id"]}').json['name'] == report['name']


def test_fifty_recipients_are_accepted(admin):
    report = create_report(admin, recipients=[f'r{n}@example.test' for n in range(50)])
    assert len(report['recipients']) == 50


def endpoints(report_id, execution_id):
    base = f'/api/reports/{report_id}'
    return [('GET', '/api/reports'), ('POST', '/api/reports'), ('GET', base), ('PUT', base),
            ('DELETE', base), ('POST', base + '/run'), ('POST', base + '/test'),
            ('GET', base + '/executions'),
            ('GET', f'{base}/executions/{execution_id}/download')]


def test_only_admins_may_use_reports(worker, admin, doctor, patient, anon):
    report = create_report(admin)
    run = admin.post(f'/api/reports/{report["id"]}/run').json
    wait_for_execution(admin, report['id'], run['execution_id'], settled=False)
    for method, path in endpoints(report['id'], run['execution_id']):
        body = report_body() if method in ('POST', 'PUT') else None
        for client in (doctor, patient):
            resp = client.request(method, path, json_body=body)
            assert resp.status == 403, (method, path, resp)
        assert anon.request(method, path, json_body=body).status == 401, (method, path)
    assert admin.get(f'/api/reports/{report["id"]}').status == 200  # nothing was deleted


def test_unsafe_requests_need_the_csrf_token(admin):
    report = create_report(admin)
    resp = admin.request('DELETE', f'/api/reports/{report["id"]}', csrf=False)
    assert resp.status == 403
    assert admin.get(f'/api/reports/{report["id"]}').status == 200


def test_an_execution_is_found_only_under_its_own_report(worker, admin):
    first, second = create_report(admin), create_report(admin)
    run = admin.post(f'/api/reports/{first["id"]}/run').json
    wait_for_execution(admin, first['id'], run['execution_id'], settled=False)
    path = f'/api/reports/{second["id"]}/executions/{run["execution_id"]}/download'
    assert admin.get(path).status == 404
    assert admin.get('/api/reports/2147483647').status == 404


def test_a_transient_error_is_retried_and_a_lasting_one_fails_the_run(settings, tmp_path):
    local = settings.with_changes(data_dir=tmp_path)
    blocker = tmp_path / 'reports'
    blocker.write_text('a file where the reports folder should be')  # mkdir fails: OSError
    with database.connection_context():
        report = ScheduledReport.create(name='Retry test', kind='appointments',
                                        frequency='daily', time='07:00', format='csv',
                                        recipients=['owner@example.test'], active=True)
        clock = fixed_clock(UTC, datetime.datetime(2001, 3, 15, 8, 0))
        queued = []
        first = report_runs.start(report, 'manual', None, clock)
        queued.append(first)
        with pytest.raises(OSError):
            report_runs.run_execution(local, clock, first.id, retries_left=2)
        waiting = ReportExecution.get_by_id(first.id)
        assert waiting.status == 'running' and waiting.error.startswith('retrying after')
        blocker.unlink()
        assert report_runs.run_execution(local, clock, first.id, retries_left=1)['rows'] >= 0
        assert ReportExecution.get_by_id(first.id).status == 'success'

        second = report_runs.start(report, 'manual', None, clock)
        queued.append(second)
        shutil.rmtree(blocker)
        blocker.write_text('blocked again')
        with pytest.raises(report_runs.ReportFailed):
            report_runs.run_execution(local, clock, second.id, retries_left=0)
        failed = ReportExecution.get_by_id(second.id)
        assert failed.status == 'failed' and 'could not write the file' in failed.error
        assert [e.id for e in queued] == [first.id, second.id]


def form_post(client, path, fields):
    from urllib.parse import urlencode
    data = urlencode({**fields, 'csrf_token': client.csrf_token})
    return client.request('POST', path, data=data,
                          headers={'Content-Type': 'application/x-www-form-urlencoded'})


def test_admin_creates_a_report_on_the_page_and_sees_bad_values_next_to_fields(admin):
    fields = {'name': 'Weekly treatments', 'kind': 'treatments', 'frequency': 'weekly',
              'weekday': '4', 'day': '', 'time': '25:00', 'format': 'pdf',
              'recipients': 'one@example.test, two@example.test', 'subject': '', 'body': '',
              'active': 'on'}
    bad = form_post(admin, '/admin/reports', fields)
    assert bad.status == 400
    assert 'id="f-time-error"' in bad.text and 'HH:MM' in bad.text
    assert 'value="Weekly treatments"' in bad.text  # what was typed is kept

    several = form_post(admin, '/admin/reports', {**fields, 'frequency': 'monthly', 'day': '40',
                                                  'recipients': 'one@example.test, oops'})
    assert several.status == 400
    for field in ('time', 'day', 'recipients'):
        assert f'id="f-{field}-error"' in several.text, field
    assert 'id="f-name-error"' not in several.text

    good = form_post(admin, '/admin/reports', {**fields, 'time': '18:15'})
    assert good.status in (302, 303)
    page_path = good.headers['Location'].replace(admin.base_url, '')
    page = admin.get(page_path)
    assert page.status == 200, page
    assert 'Weekly treatments' in page.text and 'Every Friday at 18:15' in page.text
    assert 'Run now' in page.text and 'Send test' in page.text

    listing = admin.get('/admin/reports')
    assert listing.status == 200 and 'Weekly treatments' in listing.text


def test_report_pages_are_for_admins_only(admin, doctor, anon):
    assert doctor.get('/admin/reports').status == 403
    resp = anon.get('/admin/reports')
    assert resp.status in (302, 303) and '/login' in resp.headers['Location']


def finished_run(recipients, finished_at):
    with database.connection_context():
        report = ScheduledReport.create(name='Outcome test', kind='appointments',
                                        frequency='daily', time='07:00', format='csv',
                                        recipients=[], active=False)
        return ReportExecution.create(
            report=report, triggered_by='manual', task_id=str(uuid.uuid4()), status='success',
            period_start=DAY, period_end=DAY, finished_at=finished_at, file_name='x.csv',
            recipients=recipients, mail_pending=True)


def outbox(execution, address, status, error=None):
    with database.connection_context():
        OutboxMessage.create(dedupe_key=report_runs.dedupe_key(execution.id, address), to=address,
                             subject='s', text_body='t', status=status, error=error)


def reread(execution):
    with database.connection_context():
        return ReportExecution.get_by_id(execution.id)


def test_the_run_stays_success_once_every_message_is_sent(settings):
    now = datetime.datetime(2031, 1, 1, 8, 0)
    run = finished_run(['a@example.test', 'b@example.test'], now)
    outbox(run, 'a@example.test', 'sent')
    outbox(run, 'b@example.test', 'claimed')  # on its way: still pending
    with database.connection_context():
        report_runs.settle_mail(now)
    assert (reread(run).status, reread(run).mail_pending) == ('success', True)
    with database.connection_context():
        OutboxMessage.update(status='sent').where(OutboxMessage.to == 'b@example.test',
                                                  OutboxMessage.status == 'claimed').execute()
        report_runs.settle_mail(now)
    assert (reread(run).status, reread(run).mail_pending) == ('success', False)


def test_mail_still_undelivered_after_a_day_counts_as_retries_run_out(settings):
    finished = datetime.datetime(2031, 1, 1, 8, 0)
    run = finished_run(['slow@example.test'], finished)
    outbox(run, 'slow@example.test', 'pending', error='421 try again later')
    with database.connection_context():
        report_runs.settle_mail(finished + datetime.timedelta(hours=23))
        assert reread(run).status == 'success'
        report_runs.settle_mail(finished + report_runs.MAIL_GIVE_UP + datetime.timedelta(minutes=1))
    settled = reread(run)
    assert (settled.status, settled.mail_pending) == ('partial', False)
    assert 'slow@example.test' in settled.error and '421' in settled.error


def test_a_run_whose_worker_died_is_queued_again_then_failed_after_its_attempts(settings):
    with database.connection_context():
        report = ScheduledReport.create(name='Recovery test', kind='appointments',
                                        frequency='daily', time='07:00', format='csv',
                                        recipients=[], active=False)
        dead = 'gone-host.example:4242'  # no heartbeat: the worker is dead
        again = ReportExecution.create(report=report, triggered_by='schedule', attempts=1,
                                       task_id=str(uuid.uuid4()), period_start=DAY,
                                       period_end=DAY, owner=dead)
        spent = ReportExecution.create(report=report, triggered_by='schedule',
                                       attempts=report_runs.MAX_ATTEMPTS,
                                       task_id=str(uuid.uuid4()), period_start=DAY,
                                       period_end=DAY + datetime.timedelta(days=1), owner=dead)
        queued = report_runs.recover(datetime.datetime.now(UTC).replace(tzinfo=None),
                                     workers.Queue(lambda: set()))
    assert [e.id for e in queued if e.report_id == report.id] == [again.id]
    assert (reread(again).status, reread(again).owner) == ('running', None)
    assert reread(spent).status == 'failed' and 'stopped' in reread(spent).error


HOSTILE = [None, 0, -1, 2 ** 63, 1e308, True, [], {}, [[]], {'a': 1}, '', ' ', '\x00', '\u202e',
           'x' * 10000, '<script>alert(1)</script>', "'; DROP TABLE user; --"]


@pytest.mark.parametrize('field', ['name', 'kind', 'frequency', 'weekday', 'day', 'time',
                                   'recipients', 'format', 'subject', 'body', 'active'])
def test_hostile_values_get_a_clear_4xx_never_a_500(admin, field):
    report = create_report(admin)
    for value in HOSTILE:
        extra = {'weekday': {'frequency': 'weekly'}, 'day': {'frequency': 'monthly'}}.get(field, {})
        changes = {**extra, field: value}
        for resp in (admin.post('/api/reports', report_body(**changes)),
                     admin.put(f'/api/reports/{report["id"]}', changes)):
            assert resp.status < 500, (field, value, resp)
            if resp.status >= 400:
                assert resp.json['error'], (field, value)
    for raw in (b'[1,2]', b'{"name": ', b'\xff\xfe', b'null'):
        resp = admin.request('POST', '/api/reports', data=raw,
                             headers={'Content-Type': 'application/json'})
        assert resp.status == 400, (raw, resp)


def test_a_report_stopped_halfway_leaves_the_database_writable(settings, period_data):
    # An open SQLite statement pins an old snapshot: once someone else has
    # written, this connection's next write would fail as "database is locked".
    from app.db import connect_database
    from app.services import report_engine
    other = connect_database(settings.database_url)
    with database.connection_context():
        data = report_engine.build('appointments', DAY, DAY)
        next(data.rows)
        other.execute_sql("INSERT INTO login_throttle (account, address, tries, last_try_at) "
                          "VALUES ('report-test', '-', 0, '2001-01-01')")
        data.close()
        with database.atomic():
            ScheduledReport.create(name='After a stop', kind='appointments', frequency='daily',
                                   time='07:00', format='csv', recipients=[], active=False)
    other.close()


def test_admin_pauses_and_resumes_a_report_from_the_list(admin):
    report = create_report(admin)
    paused = form_post(admin, f'/admin/reports/{report["id"]}/active', {'back': 'list'})
    assert paused.status in (302, 303) and paused.headers['Location'].endswith('/admin/reports')
    assert admin.get(f'/api/reports/{report["id"]}').json['next_run_at'] is None
    resumed = form_post(admin, f'/admin/reports/{report["id"]}/active', {'active': 'on'})
    assert resumed.headers['Location'].endswith(f'/admin/reports/{report["id"]}')
    assert admin.get(f'/api/reports/{report["id"]}').json['next_run_at'] is not None


def test_admin_runs_and_deletes_a_report_from_its_page(worker, admin):
    report = create_report(admin)
    started = form_post(admin, f'/admin/reports/{report["id"]}/run', {})
    assert started.status in (302, 303)
    (run,) = executions(admin, report['id'])
    assert run['triggered_by'] == 'manual'
    done = wait_for_execution(admin, report['id'], run['id'], settled=False)
    page = admin.get(f'/admin/reports/{report["id"]}')
    assert f'/admin/reports/{report["id"]}/executions/{run["id"]}/download' in page.text
    file = admin.get(f'/admin/reports/{report["id"]}/executions/{run["id"]}/download')
    assert file.status == 200 and file.body == admin.get(done['download_url']).body
    deleted = form_post(admin, f'/admin/reports/{report["id"]}/delete', {})
    assert deleted.status in (302, 303)
    assert admin.get(f'/api/reports/{report["id"]}').status == 404


def test_a_report_whose_stored_time_is_broken_is_still_listed_saying_so(admin):
    report = create_report(admin)
    with database.connection_context():
        # Written by hand into the database: an hour that does not exist.
        ScheduledReport.update(time='25:00').where(ScheduledReport.id == report['id']).execute()
    try:
        listed = admin.get('/api/reports?limit=1000')
        page, detail = admin.get('/admin/reports'), admin.get(f'/admin/reports/{report["id"]}')
    finally:
        with database.connection_context():
            ScheduledReport.delete().where(ScheduledReport.id == report['id']).execute()
    assert listed.status == 200 and page.status == 200 and detail.status == 200
    [mine] = [r for r in listed.json['items'] if r['id'] == report['id']]
    assert mine['schedule'].startswith('Unreadable schedule')
    assert 'Unreadable schedule' in page.text and 'Unreadable schedule' in detail.text
