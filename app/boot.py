"""Start-up shared by every process: database, schema, queue."""
import logging

from app import file_modes, runtime
from app.db import init_database
from app.migrations import apply_migrations
from app.queue import configure_queue

log = logging.getLogger('clinicdesk')


def boot(settings):
    """Bind the database and the queue to `settings`; apply migrations.
    Idempotent, so web and worker may both call it at once."""
    file_modes.make_private(settings)
    init_database(settings.database_url)
    apply_migrations()
    configure_queue(settings)
    runtime.configure(settings)
    if settings.admin_email and settings.admin_password:
        from app.db import database
        from app.services.accounts import ensure_admin
        with database.connection_context():
            ensure_admin(settings.admin_email, settings.admin_password)
    return settings
