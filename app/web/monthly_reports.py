"""Doctors' monthly reports (SPEC §3): the list as JSON, one report as its
own HTML page, and the list on the doctor's page."""
import bottle

from app import validate
from app.errors import not_found
from app.models import MonthlyReport
from app.services import monthly_reports
from app.web.base import client_ip, current_user, page_of, paging, query_params

# The report HTML is ours and escaped; still, it may only style itself.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SHOWN_ON_PAGE = 24


def list_monthly_reports():
    params = query_params()
    limit, offset = paging(params)
    query = monthly_reports.visible_to(current_user())
    month = validate.month(params, 'month', required=False)
    doctor_id = validate.identifier(params, 'doctor_id', required=False)
    if month:
        query = query.where(MonthlyReport.month == month)
    if doctor_id:
        query = query.where(MonthlyReport.doctor == doctor_id)
    items = [monthly_reports.to_json(r) for r in query.limit(limit).offset(offset)]
    return page_of(items, query.count(), limit, offset)


def monthly_report_page(report_id):
    html = monthly_reports.html_for(current_user(), report_id, client_ip())
    if html is None:
        raise not_found('report not found')
    bottle.response.set_header('Content-Security-Policy', REPORT_CSP)
    bottle.response.content_type = 'text/html; charset=utf-8'
    return html


def monthly_reports_for(user):
    """For partials/doctor_reports.html on the doctor's page."""
    if user is None:
        return []
    reports = monthly_reports.visible_to(user).limit(SHOWN_ON_PAGE)
    return [{**monthly_reports.to_json(r), 'title': monthly_reports.month_title(r.month)}
            for r in reports]


DOCTOR_OR_ADMIN = ('doctor', 'admin')

ROUTES = [
    ('GET', '/api/monthly-reports', list_monthly_reports, DOCTOR_OR_ADMIN, {}),
    ('GET', '/monthly-reports/<report_id:int>', monthly_report_page, DOCTOR_OR_ADMIN, {}),
]
