"""Schema migrations, applied at start by every process (`apply_migrations`
from app.boot). Safe to run twice, and safe when web and worker start at the
same moment: the whole run holds one lock (PostgreSQL advisory lock, SQLite
write lock), so the second starter finds the work done.

Each file NNNN_name.py in this directory is one step, run once in numeric
order by peewee's playhouse.migrations Runner, which records its name in the
`schema_migration` table. A step defines `up(migrator, db)` and works only
with what the file itself declares (frozen model copies or SQL), never with
app.models: the live models change, a released step must not.

To change the schema:
1. change app/models.py;
2. add the next file, e.g. 0004_add_room.py, whose `up` alters the schema
   (migrator.add_column / rename_column / add_index, or db.create_tables of
   models declared in that file);
3. run tests/test_migrations.py: it fails while a fresh install and the
   models disagree.
Never edit a step that has been released; correct it with a new one.
"""
import logging
from contextlib import contextmanager
from pathlib import Path

import peewee

from app.db import database

log = logging.getLogger('clinicdesk.migrations')

DIRECTORY = Path(__file__).resolve().parent
# Any constant works; it only has to be the same in every process.
ADVISORY_LOCK_KEY = 7262001
HISTORY_TABLE = 'schema_migration'  # the Runner's default


def apply_migrations():
    """Run every pending step; return the names applied."""
    if _up_to_date():
        return []
    from playhouse.migrations import Runner

    db = database.obj
    # One transaction for the whole run: on SQLite it begins IMMEDIATE
    # (app.db), taking the write lock, so a second starter waits its turn.
    with database.connection_context(), _foreign_keys_off(db), db.atomic():
        if isinstance(db, peewee.PostgresqlDatabase):
            # Serialise concurrent starters; released at commit.
            db.execute_sql('SELECT pg_advisory_xact_lock(%s)', (ADVISORY_LOCK_KEY,))
        runner = Runner(db, str(DIRECTORY), table_name=HISTORY_TABLE)
        _adopt_released_schema(db, runner)
        applied = runner.up()
        if isinstance(db, peewee.SqliteDatabase):
            _check_foreign_keys(db)
    for name in applied:
        log.info('schema migrated: %s', name)
    return applied


def _up_to_date():
    """Whether the history records every step in the directory: the usual
    start, which then needs neither the lock nor the runner and its
    migrator modules (1.5 MB in each process, SPEC §7 P6)."""
    steps = {path.stem for path in DIRECTORY.glob('[0-9]*.py')}
    db = database.obj
    with database.connection_context():
        if not db.table_exists(HISTORY_TABLE):
            return False
        recorded = {name for (name,) in db.execute_sql(f'SELECT name FROM {HISTORY_TABLE}')}
    return steps <= recorded


def _adopt_released_schema(db, runner):
    """A database made before this runner has `schema_version` (version 1)
    and no history: its schema is 0001's, so record 0001 without running it."""
    if runner.History.table_exists() or not db.table_exists('schema_version'):
        return
    version = db.execute_sql('SELECT MAX(version) FROM schema_version').fetchone()[0]
    if version != 1:
        raise RuntimeError(f'unknown schema_version {version}; expected 1')
    initial = next(m.name for m in runner.migrations() if m.idx == 1)
    runner.fake(initial)
    log.info('adopted a schema_version 1 database as %s', initial)


@contextmanager
def _foreign_keys_off(db):
    """SQLite rebuilds a table to alter it; with foreign keys on, dropping
    the old copy would cascade-delete child rows. The pragma is ignored
    inside a transaction, so it is set before the run's transaction."""
    if not isinstance(db, peewee.SqliteDatabase):
        yield
        return
    db.pragma('foreign_keys', 0)
    try:
        yield
    finally:
        db.pragma('foreign_keys', 1)


def _check_foreign_keys(db):
    """With foreign keys off nothing stopped a step from orphaning a row:
    fail (and roll back) rather than commit one."""
    broken = db.execute_sql('PRAGMA foreign_key_check').fetchall()
    if broken:
        raise RuntimeError(f'migration left rows with broken foreign keys: {broken[:5]}')
