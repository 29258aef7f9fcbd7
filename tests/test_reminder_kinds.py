"""Several reminders (SPEC §11): the evening before (REMINDER_DAY_BEFORE) and
N hours before (REMINDER_HOURS_BEFORE) besides the same-day one; each
(appointment, kind) once across reruns and concurrent runs, one email per
patient for a day-based reminder, a record per appointment that says sent,
skipped and why, or failed and why, and a bad record that fails alone."""
import datetime
import threading
import uuid
from zoneinfo import ZoneInfo

import pytest

from app.clock import UTC, fixed_clock
from app.db import database, init_database
from app.migrations import apply_migrations
from app.models import Appointment, OutboxMessage, Treatment, User
from app.services import periodic, reminder_history, reminders
from app.settings import ConfigError, load
from tests.conftest import WorkerProcess, base_env, wait_until
from tests.test_reminders import scalar

NEW_YORK = ZoneInfo('America/New_York')
LONDON = ZoneInfo('Europe/London')
DAY = datetime.date(2026, 6, 9)
TOMORROW = DAY + datetime.timedelta(days=1)
LONG_AGO = datetime.datetime(2026, 1, 1)


def at(day, hhmm, tz=UTC):
    return fixed_clock(tz, datetime.datetime.combine(day, datetime.time.fromisoformat(hhmm)))


def hours_before_at(settings, tz, *when):
    """What the hours_before pass queues at UTC `when` in clinic zone `tz`."""
    clock = fixed_clock(tz, datetime.datetime(*when, tzinfo=UTC))
    return reminders.send_hours_before(settings, clock)['queued']


def person(role, name, **fields):
    return User.create(email=f'{role}-{uuid.uuid4().hex[:10]}@example.test', password_hash='-',
                       name=name, role=role, **fields)


def book(patient, doctor, day, time, status='booked', created_at=LONG_AGO, **fields):
    return Appointment.create(patient=patient, doctor=doctor, date=day, time=time,
                              status=status, created_at=created_at, **fields)


def mail_to(who):
    return list(OutboxMessage.select().where(OutboxMessage.to == who.email)
                .order_by(OutboxMessage.id))


def history(appt):
    return [(item['kind'], item['status'], item['reason'])
            for item in reminder_history.of_appointment(appt.id)]


@pytest.fixture
def clinic(own_db):
    return own_db.with_changes(reminder_day_before=datetime.time(18, 0),
                               reminder_hours_before=2, clinic_phone='+44 20 7946 0000')


@pytest.fixture
def ada(own_db):
    return person('doctor', 'Ada Lovelace', specialization='Cardiology')


def test_settings_take_a_clinic_time_and_whole_ascii_hours_and_both_default_to_off(tmp_path):
    off = load(base_env(tmp_path / 'a'))
    assert (off.reminder_day_before, off.reminder_hours_before) == (None, None)
    assert off.clinic_phone == ''
    on = load(base_env(tmp_path / 'b', REMINDER_DAY_BEFORE='18:00', REMINDER_HOURS_BEFORE='2',
                       CLINIC_PHONE='+1 555 0100'))
    assert (on.reminder_day_before, on.reminder_hours_before) == (datetime.time(18, 0), 2)
    assert on.clinic_phone == '+1 555 0100'
    for name, value in [('REMINDER_DAY_BEFORE', '25:00'), ('REMINDER_DAY_BEFORE', 'evening'),
                        ('REMINDER_HOURS_BEFORE', '２'), ('REMINDER_HOURS_BEFORE', '0'),
                        ('REMINDER_HOURS_BEFORE', '1.5'), ('REMINDER_HOURS_BEFORE', '169')]:
        with pytest.raises(ConfigError, match=name):
            load(base_env(tmp_path / 'c', **{name: value}))


def test_evening_before_reminds_tomorrows_visits_in_one_email_per_patient_once(clinic, ada):
    # The job's work reads the real clock: days far ahead are still to come.
    today, tomorrow = datetime.date(2099, 6, 9), datetime.date(2099, 6, 10)
    grace, alan = person('patient', 'Grace Hopper'), person('patient', 'Alan Turing')
    first, second = book(grace, ada, tomorrow, '09:00'), book(grace, ada, tomorrow, '14:00')
    book(alan, ada, tomorrow, '10:00')
    evening = at(today, '18:00')

    before = periodic.run_due('day_before_reminders', clinic, at(today, '17:59').now())
    assert before['skipped'] == 'no longer meaningful'  # yesterday evening's slot
    result = periodic.run_due('day_before_reminders', clinic, evening.now())
    assert result['queued'] == 2 and result['date'] == tomorrow.isoformat()
    assert periodic.run_due('day_before_reminders', clinic, at(today, '18:30').now())['skipped']
    assert reminders.send_for_day(clinic, tomorrow, evening, kind='day_before')['queued'] == 0

    [message] = mail_to(grace)
    assert message.dedupe_key == f'reminder-day_before:{grace.id}:{tomorrow.isoformat()}'
    assert '09:00' in message.text_body and '14:00' in message.text_body
    assert len(mail_to(alan)) == 1
    for appt in (first, second):
        assert history(appt) == [('day_before', 'pending', None)]
    # The morning reminder is a kind of its own: the same patient gets it too.
    assert reminders.send_for_day(clinic, tomorrow, at(tomorrow, '08:00'))['queued'] == 2
    assert len(mail_to(grace)) == 2
    assert [item[0] for item in history(first)] == ['day_before', 'same_day']


def test_evening_reminder_is_off_while_its_setting_is_unset(own_db, ada):
    grace = person('patient', 'Grace Hopper')
    book(grace, ada, TOMORROW, '09:00')
    assert 'day_before_reminders' not in periodic.jobs(own_db)
    result = periodic.run_due('day_before_reminders', own_db, at(DAY, '18:00').now())
    assert 'off' in result['skipped']
    assert reminders.send_hours_before(own_db, at(TOMORROW, '08:00'))['skipped'] == 'off'
    assert mail_to(grace) == []


def test_hours_before_reminds_each_visit_once_when_it_comes_within_the_hours(clinic, ada):
    grace = person('patient', 'Grace Hopper')
    morning, afternoon = book(grace, ada, DAY, '10:00'), book(grace, ada, DAY, '15:00')

    assert reminders.send_hours_before(clinic, at(DAY, '07:59'))['queued'] == 0
    assert reminders.send_hours_before(clinic, at(DAY, '08:00'))['queued'] == 1
    for minute in ('08:01', '08:30', '09:59'):
        assert reminders.send_hours_before(clinic, at(DAY, minute))['queued'] == 0
    assert reminders.send_hours_before(clinic, at(DAY, '13:00'))['queued'] == 1
    assert reminders.send_hours_before(clinic, at(DAY, '13:01'))['queued'] == 0

    first, second = mail_to(grace)
    assert '10:00' in first.text_body and '15:00' not in first.text_body
    assert '15:00' in second.text_body
    assert history(morning) == [('hours_before', 'pending', None)]
    assert history(afternoon) == [('hours_before', 'pending', None)]


def run_together(*calls):
    """Run each call on its own thread and connection at the same moment."""
    start, errors = threading.Barrier(len(calls)), []

    def run(call):
        try:
            start.wait()
            with database.connection_context():
                call()
        except Exception as exc:  # noqa: BLE001  (re-raised below, in the test)
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


@pytest.mark.parametrize('kind', ['same_day', 'day_before', 'hours_before'])
def test_two_workers_running_a_kind_at_once_send_each_reminder_once(clinic, ada, kind):
    people = [person('patient', f'Patient {n}') for n in range(30)]
    for n, who in enumerate(people):
        book(who, ada, TOMORROW, f'{9 + n // 6:02d}:{n % 6 * 10:02d}')
    if kind == 'hours_before':
        clinic = clinic.with_changes(reminder_hours_before=24)
        job = lambda: reminders.send_hours_before(clinic, at(DAY, '20:00'))  # noqa: E731
    else:
        job = lambda: reminders.send_for_day(clinic, TOMORROW, at(DAY, '20:00'),  # noqa: E731
                                             kind=kind)
    run_together(job, job)
    assert [len(mail_to(who)) for who in people] == [1] * 30
    rows = [history(appt) for appt in Appointment.select()]
    assert all(row == [(kind, 'pending', None)] for row in rows)


def test_hours_before_counts_real_hours_across_the_spring_change(clinic, ada):
    # New York springs forward at 02:00 on 8 March 2026. A 03:30 visit starts
    # at 07:30 UTC; two hours before is 05:30 UTC, 00:30 on the clock then.
    clinic, day = clinic.with_changes(tz=NEW_YORK), datetime.date(2026, 3, 8)
    grace = person('patient', 'Grace Hopper')
    book(grace, ada, day, '03:30')
    assert hours_before_at(clinic, NEW_YORK, 2026, 3, 8, 5, 29) == 0
    assert hours_before_at(clinic, NEW_YORK, 2026, 3, 8, 5, 30) == 1
    assert hours_before_at(clinic, NEW_YORK, 2026, 3, 8, 6, 30) == 0
    assert len(mail_to(grace)) == 1


def test_hours_before_counts_real_hours_across_the_autumn_change(clinic, ada):
    # London falls back at 02:00 BST on 25 October 2026 (01:00-02:00 twice).
    # A 02:30 GMT visit starts 02:30 UTC; two hours before is 00:30 UTC, the
    # first 01:30 on the clock; a wall-clock sum would say 00:30.
    clinic, day = clinic.with_changes(tz=LONDON), datetime.date(2026, 10, 25)
    grace = person('patient', 'Grace Hopper')
    book(grace, ada, day, '02:30')
    assert hours_before_at(clinic, LONDON, 2026, 10, 24, 23, 31) == 0
    assert hours_before_at(clinic, LONDON, 2026, 10, 25, 0, 29) == 0
    assert hours_before_at(clinic, LONDON, 2026, 10, 25, 0, 30) == 1
    assert hours_before_at(clinic, LONDON, 2026, 10, 25, 1, 30) == 0
    assert len(mail_to(grace)) == 1


def test_every_visit_not_reminded_says_why(clinic, ada):
    quiet = person('patient', 'Quiet Patient', reminders_enabled=False)
    grace, late = person('patient', 'Grace Hopper'), person('patient', 'Late Booker')
    off = book(quiet, ada, DAY, '15:00')
    cancelled = book(grace, ada, DAY, '16:00', status='cancelled')
    started = book(grace, ada, DAY, '09:00')
    reminded = book(grace, ada, DAY, '11:00')
    # Booked at 10:30 for 12:00: its two-hours-before moment had passed.
    short_notice = book(late, ada, DAY, '12:00', created_at=datetime.datetime(2026, 6, 9, 10, 30))

    reminders.send_for_day(clinic, DAY, at(DAY, '10:00'))
    second_visit = book(grace, ada, DAY, '17:00')  # after her email for the day
    reminders.send_for_day(clinic, DAY, at(DAY, '10:30'))
    reminders.send_hours_before(clinic, at(DAY, '10:45'))

    assert ('same_day', 'skipped', 'reminders off') in history(off)
    assert ('same_day', 'skipped', 'cancelled') in history(cancelled)
    assert ('same_day', 'skipped', 'appointment already started') in history(started)
    assert ('same_day', 'pending', None) in history(reminded)
    assert ('same_day', 'skipped', 'booked after the reminder time') in history(second_visit)
    assert ('hours_before', 'skipped', 'booked after the reminder time') in history(short_notice)
    assert ('hours_before', 'skipped', 'reminders off') not in history(off)  # not due until 13:00


def test_an_address_that_cannot_be_mailed_fails_alone_and_the_rest_are_sent(clinic, ada):
    broken = User.create(email='broken\r\nBcc: someone@example.test', password_hash='-',
                         name='Broken Address', role='patient')
    people = [person('patient', f'Patient {n}') for n in range(3)]
    bad = book(broken, ada, DAY, '09:30')
    good = [book(who, ada, DAY, f'1{n}:00') for n, who in enumerate(people)]

    result = reminders.send_for_day(clinic, DAY, at(DAY, '08:00'))

    assert result['queued'] == 3 and result['failed'] == 1
    [(kind, status, reason)] = history(bad)
    assert (kind, status) == ('same_day', 'failed') and 'one line' in reason
    assert all(history(appt) == [('same_day', 'pending', None)] for appt in good)
    assert OutboxMessage.select().where(OutboxMessage.to.contains('broken')).count() == 0


def test_a_sent_reminder_reads_sent_with_its_time_and_a_refused_one_failed_with_the_reason(
        clinic, ada):
    grace, alan = person('patient', 'Grace Hopper'), person('patient', 'Alan Turing')
    ok, refused = book(grace, ada, DAY, '10:00'), book(alan, ada, DAY, '11:00')
    reminders.send_for_day(clinic, DAY, at(DAY, '08:00'))
    sent_at = datetime.datetime(2026, 6, 9, 8, 0, 5)
    (OutboxMessage.update(status='sent', sent_at=sent_at)
     .where(OutboxMessage.to == grace.email).execute())
    (OutboxMessage.update(status='failed', error='550 5.1.1 mailbox unavailable')
     .where(OutboxMessage.to == alan.email).execute())

    [sent] = reminder_history.of_appointment(ok.id)
    assert sent == {'kind': 'same_day', 'status': 'sent', 'reason': None,
                    'at': '2026-06-09T08:00:05+00:00'}
    [failed] = reminder_history.of_appointment(refused.id)
    assert failed['status'] == 'failed' and failed['reason'] == '550 5.1.1 mailbox unavailable'


def test_reminder_mail_names_doctor_day_time_and_clinic_never_the_visit_record(clinic, ada):
    grace = person('patient', 'Grace Hopper')
    appt = book(grace, ada, DAY, '10:00', reason='Chest pain since Sunday')
    Treatment.create(appointment=appt, diagnosis='Angina pectoris', treatment='Nitrates',
                     prescription='GTN spray')

    reminders.send_for_day(clinic, DAY, at(DAY, '08:00'))

    [message] = mail_to(grace)
    attachment = message.attachments[0].content
    ics = bytes(attachment).decode()
    for body in (message.text_body, message.html_body):
        for expected in ('Ada Lovelace', 'Tuesday 9 June 2026', '10:00', clinic.clinic_name,
                         '1 Harbour Road, Springfield', '+44 20 7946 0000'):
            assert expected in body
    for body in (message.subject, message.text_body, message.html_body, ics):
        for clinical in ('Chest pain', 'Angina', 'Nitrates', 'GTN'):
            assert clinical not in body


def fill_coming_hours(settings, count):
    """`count` patients, each with one visit in the coming hours (real time),
    booked long ago; their addresses."""
    init_database(settings.database_url)
    apply_migrations()
    start = datetime.datetime.now(settings.tz).replace(second=0, microsecond=0)
    start += datetime.timedelta(minutes=65 - start.minute % 5)
    with database.connection_context():
        tag = uuid.uuid4().hex[:6]
        User.insert_many([{'email': f'hb-{tag}-d{n}@example.test', 'password_hash': '-',
                           'name': f'Doctor {n}', 'role': 'doctor'}
                          for n in range(count // 100 + 1)]).execute()
        User.insert_many([{'email': f'hb-{tag}-p{n}@example.test', 'password_hash': '-',
                           'name': f'Patient {n}', 'role': 'patient'}
                          for n in range(count)]).execute()
        doctors = [u.id for u in User.select().where(User.role == 'doctor').order_by(User.id)]
        people = [u.id for u in User.select().where(User.role == 'patient').order_by(User.id)]
        rows = []
        for n, patient_id in enumerate(people):
            when = start + datetime.timedelta(minutes=5 * (n % 100))
            rows.append({'patient': patient_id, 'doctor': doctors[n // 100], 'date': when.date(),
                         'time': f'{when:%H:%M}', 'created_at': LONG_AGO})
        for chunk in range(0, len(rows), 500):
            Appointment.insert_many(rows[chunk:chunk + 500]).execute()
        return [u.email for u in User.select().where(User.role == 'patient')]


def test_two_workers_and_a_killed_one_send_each_hours_before_reminder_once(
        tmp_path, smtp, settings):
    # The morning reminder is kept out of the way: its slot is not due yet.
    env = base_env(tmp_path / 'hb', smtp.port, REMINDER_HOURS_BEFORE='12', WORKERS='2',
                   REMINDER_TIME='23:59')
    own = load(env)
    try:
        addresses = fill_coming_hours(own, 1500)
    finally:
        init_database(settings.database_url)
    db_path = own.data_dir / 'clinic.db'
    queued = "SELECT COUNT(*) FROM outbox_message WHERE dedupe_key LIKE 'reminder-hours%'"

    first, second = WorkerProcess(env).start(), WorkerProcess(env).start()
    try:
        wait_until(lambda: scalar(db_path, queued) > 0, 90, interval=0.01,
                   message='the first hours_before pass')
        first.kill()
        wait_until(lambda: scalar(db_path, "SELECT COUNT(*) FROM reminder "
                                           "WHERE kind = 'hours_before'") == 1500, 90,
                   message='every visit recorded')
        # Settled: sent, failed, or 'uncertain' when the kill cut one off
        # in the middle of its SMTP conversation (an admin decides on it).
        wait_until(lambda: scalar(db_path, "SELECT COUNT(*) FROM outbox_message WHERE status "
                                           "NOT IN ('sent', 'failed', 'uncertain')") == 0, 60,
                   message='outbox settled')
    finally:
        first.stop()
        second.stop()

    assert scalar(db_path, queued) == 1500
    assert scalar(db_path, "SELECT COUNT(DISTINCT appointment_id) FROM reminder "
                           "WHERE kind = 'hours_before' AND message_id IS NOT NULL") == 1500
    unsent = scalar(db_path, "SELECT COUNT(*) FROM outbox_message "
                             "WHERE status IN ('failed', 'uncertain')")
    received = {address: len(smtp.to(address)) for address in addresses}
    assert max(received.values()) == 1, 'someone got a reminder twice'
    assert sum(received.values()) >= 1500 - unsent and unsent <= 1
