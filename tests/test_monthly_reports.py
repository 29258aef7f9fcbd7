"""Monthly activity reports (SPEC §3.2): counts equal the data, a short
report for a doctor with no activity, the previous month in clinic time (far
from UTC, across DST), one report and one email however often it runs."""
import datetime
import uuid
from zoneinfo import ZoneInfo

from playhouse.test_utils import assert_query_count

from app.models import Appointment, MonthlyReport, OutboxMessage, Treatment, User
from app.services import monthly_reports, periodic

LA = ZoneInfo('America/Los_Angeles')
KIRITIMATI = ZoneInfo('Pacific/Kiritimati')


def user(role, name, **fields):
    return User.create(email=f'{role}-{uuid.uuid4().hex[:10]}@example.test', password_hash='-',
                       name=name, role=role, **fields)


def doctor(name='Ada Lovelace'):
    return user('doctor', name, specialization='Cardiology')


def visit(patient, with_doctor, day, at='10:00', status='completed', diagnosis='Flu',
          treatment='Rest and fluids'):
    appt = Appointment.create(patient=patient, doctor=with_doctor, date=day, time=at,
                              status=status)
    if status == 'completed':
        Treatment.create(appointment=appt, diagnosis=diagnosis, treatment=treatment)
    return appt


def report_of(who, month):
    return MonthlyReport.get_or_none(MonthlyReport.doctor == who.id, MonthlyReport.month == month)


def counts(report):
    return {field: getattr(report, field)
            for field in ('booked', 'completed', 'cancelled', 'no_show', 'patients')}


def test_monthly_counts_equal_the_data(own_db):
    ada, alan = doctor(), doctor('Alan Turing')
    grace, linus = user('patient', 'Grace Hopper'), user('patient', 'Linus T')
    may = datetime.date(2026, 5, 1)
    visit(grace, ada, may, '09:00')
    visit(grace, ada, may + datetime.timedelta(days=3), '09:00', diagnosis='Sprain',
          treatment='Ice')
    visit(linus, ada, may + datetime.timedelta(days=4), '11:00', status='no_show')
    visit(linus, ada, may + datetime.timedelta(days=5), '11:00', status='cancelled')
    visit(linus, ada, may + datetime.timedelta(days=30), '16:30', status='booked')
    visit(grace, alan, may + datetime.timedelta(days=2), '10:00', status='cancelled')
    visit(grace, ada, datetime.date(2026, 6, 1), '09:00')  # next month: not counted

    result = monthly_reports.build_month(own_db, '2026-05')

    assert result == {'month': '2026-05', 'doctors': 2, 'created': 2, 'queued': 2}
    ada_report = report_of(ada, '2026-05')
    assert counts(ada_report) == {'booked': 1, 'completed': 2, 'cancelled': 1, 'no_show': 1,
                                  'patients': 2}
    assert counts(report_of(alan, '2026-05')) == {'booked': 0, 'completed': 0, 'cancelled': 1,
                                                  'no_show': 0, 'patients': 1}
    html = ada_report.html
    assert html.index('2026-05-01') < html.index('2026-05-04')
    for text in ('May 2026', 'Ada Lovelace', 'Grace Hopper', 'Flu', 'Rest and fluids', 'Sprain'):
        assert text in html
    assert 'Linus T' not in html  # only completed appointments are listed


def test_doctor_with_no_activity_gets_a_short_report_by_email(own_db):
    quiet = doctor('Quiet Doctor')
    monthly_reports.build_month(own_db, '2026-05')
    report = report_of(quiet, '2026-05')
    assert counts(report) == dict.fromkeys(('booked', 'completed', 'cancelled', 'no_show',
                                            'patients'), 0)
    assert 'No activity in May 2026' in report.html
    [message] = OutboxMessage.select().where(OutboxMessage.to == quiet.email)
    assert message.dedupe_key == f'monthly:{quiet.id}:2026-05'
    assert message.subject == 'Your activity report for May 2026'
    assert 'No activity' in message.text_body
    assert message.html_body == report.html
    assert f'/monthly-reports/{report.id}' in message.text_body


def test_rerun_makes_no_second_report_or_email(own_db):
    ada = doctor()
    assert monthly_reports.build_month(own_db, '2026-05')['created'] == 1
    assert monthly_reports.build_month(own_db, '2026-05') == {
        'month': '2026-05', 'doctors': 1, 'created': 0, 'queued': 0}
    assert periodic.run_now('monthly_reports', own_db, '2026-05', None)['created'] == 0
    assert OutboxMessage.select().where(OutboxMessage.to == ada.email).count() == 1
    # A doctor added since gets the month's report on the next run.
    newcomer = doctor('New Doctor')
    assert periodic.run_now('monthly_reports', own_db, '2026-05', None)['created'] == 1
    assert report_of(newcomer, '2026-05') is not None


def test_previous_month_is_the_clinics_in_a_zone_far_ahead_of_utc(own_db):
    clinic = own_db.with_changes(tz=KIRITIMATI, monthly_report_time=datetime.time(7, 0))
    ada, grace = doctor(), user('patient', 'Grace Hopper')
    visit(grace, ada, datetime.date(2026, 1, 31), '15:00')
    visit(grace, ada, datetime.date(2026, 2, 1), '09:00')
    visit(grace, ada, datetime.date(2026, 2, 28), '16:30')
    visit(grace, ada, datetime.date(2026, 3, 1), '06:30')
    # 1 March 07:00 in Kiritimati (UTC+14) is still 28 February in UTC.
    now = datetime.datetime(2026, 2, 28, 17, 0, tzinfo=datetime.timezone.utc)

    result = periodic.run_due('monthly_reports', clinic, now)

    assert result['month'] == '2026-02'
    assert counts(report_of(ada, '2026-02'))['completed'] == 2
    assert report_of(ada, '2026-01') is None


def test_report_time_repeated_by_the_autumn_change_reports_october_once(own_db):
    clinic = own_db.with_changes(tz=LA, monthly_report_time=datetime.time(1, 30))
    ada, grace = doctor(), user('patient', 'Grace Hopper')
    visit(grace, ada, datetime.date(2026, 10, 1), '09:00')
    visit(grace, ada, datetime.date(2026, 10, 31), '16:30')
    visit(grace, ada, datetime.date(2026, 11, 1), '09:00')
    first = datetime.datetime(2026, 11, 1, 1, 30, tzinfo=LA, fold=0)   # 01:30 PDT
    second = datetime.datetime(2026, 11, 1, 1, 30, tzinfo=LA, fold=1)  # 01:30 PST, an hour later
    before = datetime.datetime(2026, 11, 1, 1, 29, tzinfo=LA, fold=0)

    # A minute before, the latest slot is still 1 October's (September).
    assert periodic.run_due('monthly_reports', clinic, before)['month'] == '2026-09'
    result = periodic.run_due('monthly_reports', clinic, first)
    assert result['month'] == '2026-10' and result['created'] == 1
    assert 'skipped' in periodic.run_due('monthly_reports', clinic, second)
    assert counts(report_of(ada, '2026-10'))['completed'] == 2
    assert OutboxMessage.select().where(OutboxMessage.to == ada.email,
                                        OutboxMessage.dedupe_key == f'monthly:{ada.id}:2026-10'
                                        ).count() == 1


def test_report_job_queries_grow_with_doctors_never_with_appointments(own_db):
    patients = [user('patient', f'Patient {n}') for n in range(3)]

    def month_with(month, doctors, visits_each):
        first = datetime.date(*map(int, month.split('-')), 1)
        for d in range(doctors):
            who = doctor(f'Doctor {month} {d}')
            for n in range(visits_each):
                visit(patients[n % 3], who, first + datetime.timedelta(days=n % 28),
                      f'{9 + n // 28:02d}:00', status=('completed', 'cancelled')[n % 2])

    # Doctors, reports already made, the counts, the completed rows, then
    # per 20 doctors one insert of reports and one of their emails.
    month_with('2026-03', 3, 2)
    with assert_query_count(6):
        monthly_reports.build_month(own_db, '2026-03')
    MonthlyReport.delete().execute()
    month_with('2026-04', 0, 0)
    for who in User.select().where(User.role == 'doctor'):
        for n in range(60):
            visit(patients[n % 3], who, datetime.date(2026, 4, 1 + n % 28), f'{9 + n // 28:02d}:00')
    with assert_query_count(6):
        assert monthly_reports.build_month(own_db, '2026-04')['created'] == 3
    month_with('2026-05', 42, 1)
    with assert_query_count(4 + 2 * 3):
        assert monthly_reports.build_month(own_db, '2026-05')['created'] == 45


def test_a_doctor_whose_report_cannot_be_mailed_is_skipped_and_the_others_get_theirs(own_db,
                                                                                      caplog):
    from app.db import database
    from app.models import JobRun

    ada, broken, alan = doctor(), doctor('Broken Record'), doctor('Alan Turing')
    grace = user('patient', 'Grace Hopper')
    for who in (ada, broken, alan):
        visit(grace, who, datetime.date(2026, 4, 7), diagnosis='Secret diagnosis')
    # A row stored before addresses were checked: a second line in the address.
    database.execute_sql('UPDATE "user" SET email = ? WHERE id = ?',
                         ('broken@example.test\r\nBcc: evil@example.test', broken.id))

    result = periodic.run_now('monthly_reports', own_db, '2026-04', None)

    assert result['created'] == 2 and result['queued'] == 2
    assert [item['id'] for item in result['failed']] == [f'doctor {broken.id}']
    assert report_of(ada, '2026-04') and report_of(alan, '2026-04')
    assert report_of(broken, '2026-04') is None
    run = JobRun.get(JobRun.job == 'monthly_reports', JobRun.slot == '2026-04')
    assert run.status == 'partial' and f'doctor {broken.id}' in run.error
    assert 'evil' not in caplog.text and 'Secret' not in caplog.text

    # Fixed, the skipped doctor's report is made by the next run; no one else's twice.
    User.update(email='fixed@example.test').where(User.id == broken.id).execute()
    again = periodic.run_now('monthly_reports', own_db, '2026-04', None)
    assert again == {'month': '2026-04', 'doctors': again['doctors'], 'created': 1, 'queued': 1}
    assert JobRun.get(JobRun.job == 'monthly_reports', JobRun.slot == '2026-04').status \
        == 'success'
