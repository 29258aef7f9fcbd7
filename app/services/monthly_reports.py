"""Monthly activity reports: one per doctor for a calendar month (clinic
dates), kept in the app and emailed to the doctor once.

The query count does not grow with appointments, nor with doctors: the
doctors, the reports already made, one grouped count, one query for every
completed row of the month; then two inserts per 20 reports.

A doctor whose report or mail cannot be made (data that breaks rendering,
an address that cannot be mailed) is skipped and listed under 'failed';
the other doctors get theirs, and a later run makes the skipped one once
its data is fixed.
"""
import calendar
import datetime

import peewee

from app import batch, mail
from app.db import database
from app.models import Appointment, MonthlyReport, Treatment, User, utcnow
from app.services import audit
from app.templating import render_email

REPORTS_PER_INSERT = 20
COUNTED = ('booked', 'completed', 'cancelled', 'no_show')

Patient = User.alias('patient')


def month_range(month):
    """First and last clinic date of 'YYYY-MM'."""
    year, number = (int(part) for part in month.split('-'))
    return (datetime.date(year, number, 1),
            datetime.date(year, number, calendar.monthrange(year, number)[1]))


def month_title(month):
    first, _ = month_range(month)
    return f'{first:%B %Y}'


def _counts(first, last):
    """{doctor_id: {booked, completed, cancelled, no_show, patients}}, one query."""
    columns = [peewee.fn.SUM(peewee.Case(None, [(Appointment.status == status, 1)], 0))
               for status in COUNTED]
    query = (Appointment
             .select(Appointment.doctor, *columns,
                     peewee.fn.COUNT(peewee.fn.DISTINCT(Appointment.patient)))
             .where(Appointment.date.between(first, last))
             .group_by(Appointment.doctor)
             .tuples())
    return {doctor_id: dict(zip(COUNTED + ('patients',), (int(v or 0) for v in values)))
            for doctor_id, *values in query}


def _completed(first, last, doctor_ids):
    """{doctor_id: [(date, time, patient, diagnosis, treatment)]}, one query."""
    query = (Appointment
             .select(Appointment.doctor, Appointment.date, Appointment.time, Patient.name,
                     Treatment.diagnosis, Treatment.treatment)
             .join(Patient, on=(Appointment.patient == Patient.id)).switch(Appointment)
             .join(Treatment, peewee.JOIN.LEFT_OUTER, on=(Treatment.appointment == Appointment.id))
             .where(Appointment.date.between(first, last),
                    Appointment.status == 'completed',
                    Appointment.doctor.in_(doctor_ids))
             .order_by(Appointment.doctor, Appointment.date, Appointment.time, Appointment.id)
             .tuples())
    rows = {}
    for doctor_id, *row in query:
        rows.setdefault(doctor_id, []).append(row)
    return rows


def render_report(settings, doctor, month, counts, rows):
    return render_email('mail/monthly_report.html', doctor=doctor, month=month,
                        title=month_title(month), counts=counts, rows=rows,
                        total=sum(counts[status] for status in COUNTED),
                        clinic_name=settings.clinic_name)


def build_month(settings, month, now_utc=None):
    """Create and email the reports of `month` ('YYYY-MM') for every active
    doctor who has none yet. Idempotent: a rerun makes nothing twice."""
    now_utc = now_utc or utcnow()
    first, last = month_range(month)
    doctors = list(User.doctors())
    have = {doctor_id for (doctor_id,) in (MonthlyReport.select(MonthlyReport.doctor)
                                           .where(MonthlyReport.month == month)
                                           .tuples())}
    todo = [doctor for doctor in doctors if doctor.id not in have]
    created = queued = 0
    failed = []
    if todo:
        reports, failed = _prepare(settings, month, todo, first, last, now_utc)
        by_doctor = {doctor.id: doctor for doctor in todo}
        with database.atomic():
            for chunk in peewee.chunked(reports, REPORTS_PER_INSERT):
                made = _insert_reports(chunk)
                created += len(made)
                messages = [_message(settings, by_doctor[r['doctor']], r, made[r['doctor']])
                            for r in chunk if r['doctor'] in made]
                queued += len(mail.queue_messages(messages, now_utc))
    result = {'month': month, 'doctors': len(doctors), 'created': created, 'queued': queued}
    return {**result, 'failed': failed} if failed else result


def _prepare(settings, month, todo, first, last, now_utc):
    """(report rows, skipped doctors): each doctor's report rendered and its
    mail checked on its own, before anything is written."""
    counts = _counts(first, last)
    rows = _completed(first, last, [doctor.id for doctor in todo])
    empty = dict.fromkeys(COUNTED + ('patients',), 0)
    reports = []

    def prepare(doctor):
        report = _report_row(settings, doctor, month, counts.get(doctor.id, empty),
                             rows.get(doctor.id, []), now_utc)
        mail.check_message(_message(settings, doctor, report, 0))
        reports.append(report)

    return reports, batch.each(todo, prepare, 'doctor')


def _report_row(settings, doctor, month, counts, rows, now_utc):
    return {'doctor': doctor.id, 'month': month, **counts, 'created_at': now_utc,
            'html': render_report(settings, doctor, month, counts, rows)}


def _insert_reports(chunk):
    """{doctor_id: report id} of the reports this call created."""
    made = (MonthlyReport.insert_many(chunk)
            .on_conflict_ignore()
            .returning(MonthlyReport.id, MonthlyReport.doctor)
            .execute())
    return {report.doctor_id: report.id for report in made}


def html_url(report_id):
    return f'/monthly-reports/{report_id}'


def _message(settings, doctor, report, report_id):
    title = month_title(report['month'])
    text = render_email('mail/monthly_report.txt', doctor=doctor, title=title, counts=report,
                        total=sum(report[status] for status in COUNTED),
                        clinic_name=settings.clinic_name,
                        url=settings.base_url + html_url(report_id))
    return {'dedupe_key': f'monthly:{doctor.id}:{report["month"]}', 'to': doctor.email,
            'subject': f'Your activity report for {title}', 'text': text,
            'html': report['html']}


def visible_to(user):
    """The reports `user` may read (a doctor's own, all for an admin),
    without their HTML, which can be large."""
    fields = [f for f in MonthlyReport._meta.sorted_fields if f is not MonthlyReport.html]
    query = (MonthlyReport
             .select(*fields, User.id, User.name)
             .join(User, on=(MonthlyReport.doctor == User.id))
             .order_by(MonthlyReport.month.desc(), User.name, MonthlyReport.id))
    if user.role != 'admin':
        query = query.where(MonthlyReport.doctor == user.id)
    return query


def html_for(user, report_id, ip=None):
    """The stored HTML of a report `user` may read, or None. Reading it is
    recorded: it lists the doctor's patients with their diagnoses, so it is
    about many patients and has no single subject."""
    visible = visible_to(user).where(MonthlyReport.id == report_id)
    if not visible.exists():
        return None
    audit.record('monthly_report.view', user, None, f'monthly_report:{report_id}', ip)
    return (MonthlyReport.select(MonthlyReport.html)
            .where(MonthlyReport.id == report_id)
            .scalar())


def to_json(report):
    return {'id': report.id,
            'doctor': {'id': report.doctor.id, 'name': report.doctor.name},
            'month': report.month,
            'counts': {field: getattr(report, field) for field in COUNTED + ('patients',)},
            'html_url': html_url(report.id)}
