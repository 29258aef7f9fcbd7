"""create_app(settings) -> the Bottle WSGI app."""
import bottle

from app.clock import Clock
from app.db import database
from app.web import accounts, admin, appointments, audit, booking_for_patient, calendar, \
    exports, health, jobs, login_locks, monthly_reports, my_account, outbox, password_reset, \
    patients, reception, reminders, reports, reschedule, staff, treatments, two_factor
from app.web import from_memory
from app.web.access import SECURITY_HEADERS, ClinicBottle, ClinicPlugin
from app.web.templating import STATIC_DIR

# Request bodies larger than this are refused before they are read.
bottle.BaseRequest.MEMFILE_MAX = 1024 * 1024

# The web layer's features; each module holds its JSON routes and its pages.
FEATURES = (health, accounts, my_account, password_reset, appointments, calendar, admin, exports,
            jobs, monthly_reports, outbox, reports, audit, reschedule, patients, reception,
            booking_for_patient, staff, treatments, two_factor, login_locks, reminders)


def _static(path):
    response = bottle.static_file(path, root=str(STATIC_DIR))
    response.set_header('Cache-Control', 'public, max-age=3600')
    return response


def create_app(settings, clock=None):
    app = ClinicBottle()
    app.config['clinicdesk.settings'] = settings
    app.config['clinicdesk.clock'] = clock or Clock(settings.tz)

    # No connect hook: peewee connects on a request's first query, so a
    # request answered from caches (the admin stats) opens no connection.
    @app.hook('after_request')
    def _close():
        db = database.obj  # not through the proxy: a hot path (SPEC P4)
        if db is not None and not db.is_closed():
            db.close()
        headers = bottle.response._headers  # plain dict: a hot path (SPEC P4)
        headers.update(SECURITY_HEADERS)

    # Ids in paths take ASCII digits only: Bottle's <name:int> matches \d,
    # so '/appointments/١/reschedule' was appointment 1 under a second name.
    app.router.add_filter('int', lambda conf: (r'-?[0-9]+', int, lambda x: str(int(x))))
    # ClinicPlugin writes the JSON of API routes; Bottle's own JSON plugin
    # would only wrap every route once more (SPEC P4's hot path).
    app.uninstall('json')
    app.install(ClinicPlugin())
    for feature in FEATURES:
        for method, rule, callback, roles, options in feature.ROUTES:
            app.route(rule, method, callback, roles=roles, **options)
    app.route('/static/<path:path>', 'GET', _static, skip=[ClinicPlugin.name])
    from_memory.install(app)
    return app
