"""Daily reminders (SPEC §3.1): one email per patient and day, listing every
booked appointment, with an .ics file and a one-click unsubscribe that works
logged out; idempotent across reruns, duplicate enqueues and a killed worker.
Never for a visit that has started when the job runs, and a moved visit is
reminded on its new day, once (SPEC §8)."""
import datetime
import email
import email.policy
import random
import re
import sqlite3
import uuid
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from playhouse.test_utils import assert_query_count

import tasks
from app import mail, mime
from app.clock import UTC, fixed_clock
from app.db import database, init_database
from app.migrations import apply_migrations
from app.models import Appointment, OutboxAttachment, OutboxMessage, User
from app.services import appointments, periodic, reminders
from app.settings import load
from tests.conftest import TEST_WEEK, WorkerProcess, base_env, set_week, wait_until

LA = ZoneInfo('America/Los_Angeles')
NEW_YORK = ZoneInfo('America/New_York')
DAY = datetime.date(2026, 6, 9)  # a Tuesday, in the databases of their own
NEXT_DAY = DAY + datetime.timedelta(days=1)
# Noon UTC the day before: every visit on DAY, in any zone here, is ahead.
BEFORE = fixed_clock(UTC, datetime.datetime(2026, 6, 8, 12, 0))


def at(day, hhmm, tz=UTC):
    """A clock stopped at `day` `hhmm` wall time in `tz`."""
    return fixed_clock(tz, datetime.datetime.combine(day, datetime.time.fromisoformat(hhmm)))


def user(role, name, **fields):
    return User.create(email=f'{role}-{uuid.uuid4().hex[:10]}@example.test', password_hash='-',
                       name=name, role=role, **fields)


def doctor(name='Ada Lovelace', specialization='Cardiology'):
    return user('doctor', name, specialization=specialization)


def patient(name='Grace Hopper', reminders_enabled=True):
    return user('patient', name, reminders_enabled=reminders_enabled)


def book(who, with_doctor, day, time, status='booked', minutes=30):
    return Appointment.create(patient=who, doctor=with_doctor, date=day, time=time,
                              status=status, minutes=minutes)


def outbox_for(address):
    return list(OutboxMessage.select().where(OutboxMessage.to == address))


def reminders_for(address):
    return [message for message in outbox_for(address)
            if message.dedupe_key.startswith('reminder:')]


def as_mime(message, settings):
    attachments = list(OutboxAttachment.select().where(OutboxAttachment.message == message.id))
    raw = mime.mime_bytes(message, attachments, settings.mail_from)
    return email.message_from_bytes(raw, policy=email.policy.default)


def part(mime, content_type):
    for item in mime.walk():
        if item.get_content_type() == content_type:
            return item
    raise AssertionError(f'no {content_type} part')


def test_patient_with_two_appointments_gets_one_email_listing_both(own_db):
    grace, ada, alan = patient(), doctor(), doctor('Alan Turing', 'Neurology')
    book(grace, alan, DAY, '14:30')
    book(grace, ada, DAY, '09:00')

    result = reminders.send_for_day(own_db, DAY, BEFORE)

    assert result == {'date': '2026-06-09', 'patients': 1, 'appointments': 2, 'queued': 1,
                      'started': 0}
    [message] = outbox_for(grace.email)
    assert message.dedupe_key == f'reminder:{grace.id}:2026-06-09'
    mime = as_mime(message, own_db)
    text = part(mime, 'text/plain').get_content()
    html = part(mime, 'text/html').get_content()
    for body in (text, html):
        assert body.index('09:00') < body.index('14:30')
        for expected in ('Ada Lovelace', 'Cardiology', 'Alan Turing', 'Neurology',
                         'Tuesday 9 June 2026', '1 Harbour Road, Springfield'):
            assert expected in body
    assert '2 appointments' in mime['Subject']


def test_reminder_carries_an_unsubscribe_link_header_and_one_click_post(own_db):
    grace = patient()
    book(grace, doctor(), DAY, '10:00')
    reminders.send_for_day(own_db, DAY, BEFORE)

    mime = as_mime(outbox_for(grace.email)[0], own_db)
    link = reminders.unsubscribe_url(own_db, grace.id)
    assert mime['List-Unsubscribe'] == f'<{link}>'
    assert mime['List-Unsubscribe-Post'] == 'List-Unsubscribe=One-Click'
    assert link in part(mime, 'text/plain').get_content()
    assert link in part(mime, 'text/html').get_content()


def test_ics_attachment_has_one_event_per_appointment_in_utc_with_crlf(own_db):
    clinic = own_db.with_changes(tz=LA)
    grace, ada = patient(), doctor(specialization='Cardiology, paediatric')
    book(grace, ada, DAY, '09:00')
    book(grace, ada, DAY, '11:30', minutes=15)
    reminders.send_for_day(clinic, DAY, BEFORE)

    mime = as_mime(outbox_for(grace.email)[0], clinic)
    [ics] = [p for p in mime.iter_attachments() if p.get_content_type() == 'text/calendar']
    assert ics.get_filename() == 'appointments.ics'
    raw = ics.get_payload(decode=True)
    assert raw.endswith(b'END:VCALENDAR\r\n')
    assert b'\n' not in raw.replace(b'\r\n', b'')
    lines = raw.split(b'\r\n')
    assert all(len(line) <= 75 for line in lines)
    assert lines.count(b'BEGIN:VEVENT') == 2
    # 09:00 in Los Angeles in June is 16:00 UTC (PDT, UTC-7).
    assert b'DTSTART:20260609T160000Z' in lines
    assert b'DTEND:20260609T163000Z' in lines
    assert b'DTSTART:20260609T183000Z' in lines
    assert b'DTEND:20260609T184500Z' in lines  # a 15-minute visit
    unfolded = raw.replace(b'\r\n ', b'')
    assert b'Cardiology\\, paediatric' in unfolded


def test_patient_who_turned_reminders_off_gets_nothing(own_db):
    quiet, ada = patient(reminders_enabled=False), doctor()
    book(quiet, ada, DAY, '10:00')
    assert reminders.send_for_day(own_db, DAY, BEFORE)['queued'] == 0
    assert outbox_for(quiet.email) == []


def test_only_booked_appointments_of_that_day_are_reminded(own_db):
    grace, ada = patient(), doctor()
    book(grace, ada, DAY, '10:00', status='cancelled')
    book(grace, ada, DAY + datetime.timedelta(days=1), '10:00')
    assert reminders.send_for_day(own_db, DAY, BEFORE)['queued'] == 0
    book(grace, ada, DAY, '11:00')
    reminders.send_for_day(own_db, DAY, BEFORE)
    [message] = outbox_for(grace.email)
    assert '11:00' in message.text_body and '10:00' not in message.text_body


def test_rerunning_the_day_queues_nothing_twice(own_db):
    grace, ada = patient(), doctor()
    book(grace, ada, DAY, '10:00')
    assert reminders.send_for_day(own_db, DAY, BEFORE)['queued'] == 1
    assert reminders.send_for_day(own_db, DAY, at(DAY, '08:00'))['queued'] == 0
    # A patient who booked after the first run is reminded by the next one.
    late = patient('Late Booker')
    book(late, ada, DAY, '15:00')
    assert reminders.send_for_day(own_db, DAY, at(DAY, '09:00'))['queued'] == 1
    assert len(outbox_for(grace.email)) == 1 and len(outbox_for(late.email)) == 1


def test_run_now_twice_reminds_once(own_db):
    # "Run now" runs on the real clock: a day that is still ahead.
    ahead = datetime.date(2099, 6, 9)
    grace = patient()
    book(grace, doctor(), ahead, '10:00')
    assert periodic.run_now('daily_reminders', own_db, ahead.isoformat(), None)['queued'] == 1
    assert periodic.run_now('daily_reminders', own_db, ahead.isoformat(), None)['queued'] == 0
    assert len(outbox_for(grace.email)) == 1


def test_names_are_escaped_in_the_html(own_db):
    mallory = patient('<script>alert(1)</script>')
    book(mallory, doctor('Dr <b>Bold</b>'), DAY, '10:00')
    reminders.send_for_day(own_db, DAY, BEFORE)
    html = outbox_for(mallory.email)[0].html_body
    assert '<script>' not in html and '&lt;script&gt;' in html
    assert '<b>Bold</b>' not in html


def test_reminder_job_reads_with_a_fixed_number_of_queries(own_db):
    def queries_for(day, patients, visits_each):
        doctors = [doctor(f'Doctor {n}') for n in range(visits_each)]
        for n in range(patients):
            who = patient(f'Patient {n}')
            for index, with_doctor in enumerate(doctors):
                slot = n * visits_each + index
                book(who, with_doctor, day, f'{slot // 12:02d}:{slot % 12 * 5:02d}')
        # Read the day, find reminders already queued, insert the messages,
        # their attachments and the reminder rows: the same five for 2 or
        # 120 appointments.
        with assert_query_count(5):
            result = reminders.send_for_day(own_db, day, BEFORE)
        assert result['queued'] == patients

    queries_for(DAY, 2, 1)
    queries_for(DAY + datetime.timedelta(days=1), 40, 3)


def test_late_catch_up_reminds_only_visits_still_ahead(own_db):
    grace, alan, ada = patient(), patient('Alan Turing'), doctor()
    book(grace, ada, DAY, '09:00')
    book(grace, ada, DAY, '10:00')  # starting as the job runs: started
    book(grace, ada, DAY, '14:30')
    book(alan, ada, DAY, '08:30')

    result = reminders.send_for_day(own_db, DAY, at(DAY, '10:00'))

    assert result == {'date': '2026-06-09', 'patients': 1, 'appointments': 1, 'queued': 1,
                      'started': 3}
    [message] = reminders_for(grace.email)
    assert '14:30' in message.subject and '14:30' in message.text_body
    assert '09:00' not in message.text_body and '10:00' not in message.text_body
    assert reminders_for(alan.email) == []


def test_a_run_after_the_last_visit_started_sends_nothing(own_db):
    grace = patient()
    book(grace, doctor(), DAY, '09:00')
    result = reminders.send_for_day(own_db, DAY, at(DAY, '16:00'))
    assert (result['queued'], result['started']) == (0, 1)
    assert outbox_for(grace.email) == []


def test_the_autumn_repeat_hour_is_judged_by_the_instant(own_db):
    # New York falls back at 02:00 on 1 November 2026: 01:00-02:00 happens twice.
    clinic, day = own_db.with_changes(tz=NEW_YORK), datetime.date(2026, 11, 1)
    early, later = patient('Early Bird'), patient('Later Visit')
    ada = doctor()
    book(early, ada, day, '01:30')  # the first 01:30, 05:30 UTC
    book(later, ada, day, '02:00')  # 07:00 UTC
    # 06:15 UTC is 01:15 the second time round: the wall clock reads before
    # 01:30, but that visit started 45 minutes ago.
    run_at = fixed_clock(NEW_YORK, datetime.datetime(2026, 11, 1, 6, 15, tzinfo=UTC))

    result = reminders.send_for_day(clinic, day, run_at)

    assert (result['queued'], result['started']) == (1, 1)
    assert reminders_for(early.email) == []
    assert len(reminders_for(later.email)) == 1


def test_the_spring_gap_counts_from_the_end_of_the_gap(own_db):
    # New York springs forward at 02:00 on 8 March 2026: 02:30 never shows,
    # a visit written for it starts at 03:00 EDT (07:00 UTC).
    clinic, day = own_db.with_changes(tz=NEW_YORK), datetime.date(2026, 3, 8)
    gap, after = patient('In The Gap'), patient('After The Gap')
    ada = doctor()
    book(gap, ada, day, '02:30')
    book(after, ada, day, '03:30')
    run_at = fixed_clock(NEW_YORK, datetime.datetime(2026, 3, 8, 7, 5, tzinfo=UTC))  # 03:05 EDT

    result = reminders.send_for_day(clinic, day, run_at)

    assert (result['queued'], result['started']) == (1, 1)
    assert reminders_for(gap.email) == []
    assert len(reminders_for(after.email)) == 1


def front_desk_moves(settings, clock, appt, day, time):
    """Reception moves `appt` through the booking service, as the API does."""
    desk = user('reception', 'Rita Reception')
    return appointments.reschedule(settings, clock, desk, appt.id,
                                   {'date': day.isoformat(), 'time': time})


def working_doctor():
    ada = doctor()
    set_week(ada.id, TEST_WEEK)
    return ada


def test_visit_moved_to_another_day_after_its_reminder_is_reminded_there_once(own_db):
    grace, ada = patient(), working_doctor()
    appt = book(grace, ada, DAY, '10:00')
    assert reminders.send_for_day(own_db, DAY, at(DAY, '08:00'))['queued'] == 1

    moved = front_desk_moves(own_db, at(DAY, '08:30'), appt, NEXT_DAY, '11:00')

    assert moved.id == appt.id and moved.rescheduled_from_date == DAY
    assert reminders.send_for_day(own_db, DAY, at(DAY, '09:00'))['queued'] == 0
    assert reminders.send_for_day(own_db, NEXT_DAY, at(NEXT_DAY, '08:00'))['queued'] == 1
    assert reminders.send_for_day(own_db, NEXT_DAY, at(NEXT_DAY, '09:00'))['queued'] == 0
    first, second = reminders_for(grace.email)
    assert '10:00' in first.text_body
    assert second.dedupe_key == f'reminder:{grace.id}:{NEXT_DAY.isoformat()}'
    assert '11:00' in second.text_body and '10:00' not in second.text_body


def test_visit_moved_before_its_reminder_is_reminded_only_on_its_new_day(own_db):
    grace, ada = patient(), working_doctor()
    appt = book(grace, ada, NEXT_DAY, '10:00')
    front_desk_moves(own_db, at(DAY, '12:00'), appt, DAY, '16:00')

    assert reminders.send_for_day(own_db, NEXT_DAY, at(NEXT_DAY, '08:00'))['queued'] == 0
    assert reminders_for(grace.email) == []
    assert reminders.send_for_day(own_db, DAY, at(DAY, '13:00'))['queued'] == 1
    [message] = reminders_for(grace.email)
    assert '16:00' in message.text_body


def test_visit_moved_within_a_day_already_reminded_is_not_reminded_again(own_db):
    grace, ada = patient(), working_doctor()
    appt = book(grace, ada, DAY, '10:00')
    assert reminders.send_for_day(own_db, DAY, at(DAY, '08:00'))['queued'] == 1

    front_desk_moves(own_db, at(DAY, '08:30'), appt, DAY, '15:00')

    # A catch-up or a "Run now" later that day sends no second reminder;
    # the move's own email tells the new time.
    assert reminders.send_for_day(own_db, DAY, at(DAY, '11:00'))['queued'] == 0
    assert len(reminders_for(grace.email)) == 1
    [moved_mail] = [m for m in outbox_for(grace.email) if m.dedupe_key.startswith('reschedule:')]
    assert '15:00' in moved_mail.subject


def unique_future_day(settings):
    return datetime.date.today() + datetime.timedelta(days=random.randint(400, 5000))


def book_in_shared_db(base_url, make_user, day, count):
    clients = [make_user(base_url, 'patient', name=f'Patient {n}') for n in range(count)]
    doc = make_user(base_url, 'doctor', name='Dr Shared')
    with database.connection_context():
        for n, client in enumerate(clients):
            Appointment.create(patient=client.user['id'], doctor=doc.user['id'], date=day,
                               time=f'{10 + n:02d}:00')
    return clients


def wait_task(admin, task_id, timeout=20):
    def finished():
        status = admin.get(f'/api/tasks/{task_id}').json
        return status if status['status'] in ('success', 'failed') else None
    return wait_until(finished, timeout, message=f'task {task_id}')


def test_reminders_run_from_the_api_reach_each_patient_once(admin, base_url, make_user, worker,
                                                            smtp, settings):
    day = unique_future_day(settings)
    first, second = book_in_shared_db(base_url, make_user, day, 2)

    resp = admin.post('/api/jobs/daily_reminders/run', {'date': day.isoformat()})
    assert resp.status == 202, resp
    done = wait_task(admin, resp.json['task_id'])
    assert done['status'] == 'success' and done['result']['queued'] == 2
    for client in (first, second):
        wait_until(lambda: smtp.to(client.user['email']), 15, message='reminder delivered')

    # Run again, and enqueue the same job twice more straight away.
    again = admin.post('/api/jobs/daily_reminders/run', {'date': day.isoformat()})
    duplicates = [tasks.ON_DEMAND['daily_reminders'](day.isoformat()) for _ in range(2)]
    assert wait_task(admin, again.json['task_id'])['status'] == 'success'
    for result in duplicates:
        wait_task(admin, result.id)
    with database.connection_context():
        wait_until(lambda: not OutboxMessage.select().where(
            OutboxMessage.to.in_([first.user['email'], second.user['email']]),
            OutboxMessage.status != 'sent').exists(), 15, message='outbox settled')
    for client in (first, second):
        [received] = smtp.to(client.user['email'])
        assert received.get_content_type() == 'multipart/mixed'
        assert {p.get_content_type() for p in received.walk()} >= {
            'text/plain', 'text/html', 'text/calendar'}


def delivered_reminder(smtp, address):
    [received] = wait_until(lambda: smtp.to(address), 15, message='reminder delivered')
    text = part(received, 'text/plain').get_content()
    link = re.search(r'https?://\S+/unsubscribe/\S+', text).group(0)
    assert received['List-Unsubscribe'] == f'<{link}>'
    return urlparse(link).path


def reminders_on(client):
    with database.connection_context():
        return User.get_by_id(client.user['id']).reminders_enabled


def test_unsubscribe_link_works_logged_out(anon, admin, base_url, make_user, worker, smtp,
                                           settings):
    day = unique_future_day(settings)
    clicker, one_click = book_in_shared_db(base_url, make_user, day, 2)
    resp = admin.post('/api/jobs/daily_reminders/run', {'date': day.isoformat()})
    wait_task(admin, resp.json['task_id'])

    path = delivered_reminder(smtp, clicker.user['email'])
    page = anon.get(path)
    assert page.status == 200 and 'Stop reminders' in page.text
    assert reminders_on(clicker)
    done = anon.post(path, data='', headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert done.status == 200 and 'Reminders are off' in done.text
    assert not reminders_on(clicker)

    # RFC 8058: the mail client POSTs this body to the List-Unsubscribe URL.
    path = delivered_reminder(smtp, one_click.user['email'])
    resp = anon.post(path, data='List-Unsubscribe=One-Click',
                     headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert resp.status == 200
    assert not reminders_on(one_click)


def test_forged_unsubscribe_link_is_refused(anon, patient):
    path = f'/unsubscribe/{patient.user["id"]}/not-the-signature'
    assert anon.get(path).status == 404
    assert anon.post(path, data='List-Unsubscribe=One-Click',
                     headers={'Content-Type': 'application/x-www-form-urlencoded'}).status == 404
    assert reminders_on(patient)


def fill_reminder_day(settings, day, patients):
    init_database(settings.database_url)
    apply_migrations()
    with database.connection_context():
        tag = uuid.uuid4().hex[:6]
        User.insert_many([{'email': f'r1-{tag}-d{n}@example.test', 'password_hash': '-',
                           'name': f'Doctor {n}', 'role': 'doctor', 'specialization': 'GP'}
                          for n in range(patients // 100 + 1)]).execute()
        User.insert_many([{'email': f'r1-{tag}-p{n}@example.test', 'password_hash': '-',
                           'name': f'Patient {n}', 'role': 'patient'}
                          for n in range(patients)]).execute()
        doctors = [u.id for u in User.select().where(User.role == 'doctor').order_by(User.id)]
        people = [u.id for u in User.select().where(User.role == 'patient').order_by(User.id)]
        rows = [{'patient': pid, 'doctor': doctors[n // 100], 'date': day,
                 'time': f'{8 + n % 100 // 12:02d}:{n % 100 % 12 * 5:02d}'}
                for n, pid in enumerate(people)]
        for start in range(0, len(rows), 500):
            Appointment.insert_many(rows[start:start + 500]).execute()
        return [u.email for u in User.select().where(User.role == 'patient')]


def scalar(db_path, sql):
    with sqlite3.connect(db_path, timeout=10) as conn:
        return conn.execute(sql).fetchone()[0]


def zone_in_the_early_morning():
    """A fixed-offset zone whose clock reads 04:xx now: the day's visits
    (08:00 on) are all still ahead whenever the test runs."""
    offset = (4 - datetime.datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f'Etc/GMT{-offset:+d}'  # POSIX signs: Etc/GMT-5 is UTC+5


def test_worker_killed_mid_reminder_batch_completes_after_restart_without_duplicates(
        tmp_path, smtp, settings):
    # REMINDER_TIME 00:00: today's slot is due the moment the consumer starts.
    env = base_env(tmp_path / 'r1', smtp.port, REMINDER_TIME='00:00', WORKERS='2',
                   CLINIC_TZ=zone_in_the_early_morning())
    own = load(env)
    today = datetime.datetime.now(own.tz).date()
    try:
        addresses = fill_reminder_day(own, today, 1500)
    finally:
        init_database(settings.database_url)
    db_path = own.data_dir / 'clinic.db'
    count = "SELECT COUNT(*) FROM outbox_message WHERE dedupe_key LIKE 'reminder:%'"

    first = WorkerProcess(env).start()
    try:
        wait_until(lambda: scalar(db_path, count) >= 500, 30, interval=0.01,
                   message='first reminders queued')
    finally:
        first.kill()
    assert scalar(db_path, count) < 1500, 'the batch finished before the kill; make it bigger'
    assert scalar(db_path, "SELECT status FROM job_run WHERE job='daily_reminders'") == 'running'

    second = WorkerProcess(env).start()
    try:
        wait_until(lambda: scalar(db_path, "SELECT COUNT(*) FROM job_run WHERE "
                                           "job='daily_reminders' AND status='success'"), 60,
                   message='job completed after restart')
        wait_until(lambda: scalar(db_path, "SELECT COUNT(*) FROM outbox_message WHERE status "
                                           "NOT IN ('sent', 'failed', 'uncertain')") == 0, 60,
                   message='outbox settled')
    finally:
        second.stop()

    assert scalar(db_path, count) == 1500
    with sqlite3.connect(db_path) as conn:
        failed = conn.execute("SELECT error FROM outbox_message WHERE status='uncertain' "
                              "AND dedupe_key LIKE 'reminder:%'").fetchall()
    assert len(failed) <= 1 and all(error == mail.IN_DOUBT for (error,) in failed)
    received = {address: len(smtp.to(address)) for address in addresses}
    assert max(received.values()) == 1, 'someone got a reminder twice'
    assert sum(received.values()) >= 1500 - len(failed)
