"""create_app(settings) -> the Bottle WSGI app."""
import bottle

from app.clock import Clock
from app.db import database
from app.web import api_reports, reports_pages
from app.web import accounts, admin, appointments, audit, exports, health, monthly_reports
from app.web import jobs, outbox
from app.web.base import ClinicPlugin, error_response, is_api_path
from app.web.templating import STATIC_DIR, render

# Request bodies larger than this are refused before they are read.
bottle.BaseRequest.MEMFILE_MAX = 1024 * 1024

SECURITY_HEADERS = {'X-Content-Type-Options': ['nosniff'], 'X-Frame-Options': ['DENY'],
                    'Referrer-Policy': ['same-origin']}

ROUTE_TABLES = [health.ROUTES, accounts.ROUTES, appointments.ROUTES, admin.ROUTES, exports.ROUTES, jobs.ROUTES, monthly_reports.ROUTES, outbox.ROUTES,
                api_reports.ROUTES, reports_pages.ROUTES, audit.ROUTES]


def _static(path):
    response = bottle.static_file(path, root=str(STATIC_DIR))
    response.set_header('Cache-Control', 'public, max-age=3600')
    return response


def _default_error(error):
    if is_api_path(bottle.request.path):
        message = {404: 'not found', 405: 'method not allowed'}.get(
            error.status_code, error.body if isinstance(error.body, str) else 'error')
        return error_response(error.status_code, message)
    return render('error.html', status=error.status_code,
                  message={404: 'Page not found.', 405: 'Method not allowed.'}.get(
                      error.status_code, 'Something went wrong.'))


def create_app(settings, clock=None):
    app = bottle.Bottle()
    app.config['clinicdesk.settings'] = settings
    app.config['clinicdesk.clock'] = clock or Clock(settings.tz)

    # No connect hook: peewee connects on a request's first query, so a
    # request answered from caches (the admin stats) opens no connection.
    @app.hook('after_request')
    def _close():
        if not database.is_closed():
            database.close()
        headers = bottle.response._headers  # plain dict: a hot path (SPEC P4)
        headers.update(SECURITY_HEADERS)

    app.default_error_handler = _default_error
    app.install(ClinicPlugin())
    for table in ROUTE_TABLES:
        for method, rule, callback, roles, options in table:
            app.route(rule, method, callback, roles=roles, **options)
    app.route('/static/<path:path>', 'GET', _static, skip=[ClinicPlugin.name])
    return app
