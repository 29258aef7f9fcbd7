"""Schema migrations, applied at start by every process; safe to run twice
and safe when web and worker start at the same moment.

Version 1 creates the schema. A later change appends a function to STEPS
that alters the schema with playhouse.migrate; never edit a released step.
"""
import logging

import peewee
from playhouse.migrate import SchemaMigrator, migrate  # noqa: F401  (used by later steps)

from app.db import database
from app.models import MODELS, SchemaVersion

log = logging.getLogger('clinicdesk.migrations')


def _create_schema(db):
    db.create_tables(MODELS, safe=True)


STEPS = [_create_schema]


def _current_version():
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    return (SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0)


def apply_migrations():
    db = database.obj
    with database.connection_context():
        with database.atomic():
            if isinstance(db, peewee.PostgresqlDatabase):
                # Serialise concurrent starters; released at commit.
                db.execute_sql('SELECT pg_advisory_xact_lock(7262001)')
            version = _current_version()
            for number, step in enumerate(STEPS[version:], start=version + 1):
                step(db)
                SchemaVersion.create(version=number)
                log.info('schema migrated to version %d', number)
    return len(STEPS)
