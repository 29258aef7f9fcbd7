"""The database: declared once, bound at start from DATABASE_URL."""
import logging
import time
import uuid
from urllib.parse import urlparse

import peewee

database = peewee.DatabaseProxy()
log = logging.getLogger('clinicdesk.db')

# About 30 s in all: longer than busy_timeout, short of a Huey retry.
LOCKED_RETRY_DELAYS = (0.05, 0.2, 0.5, 1, 2, 3, 5, 8, 10)

SQLITE_PRAGMAS = {
    'journal_mode': 'wal',
    'busy_timeout': 5000,
    'foreign_keys': 1,
    'synchronous': 'normal',
    # SQLite's own default (2 MB a connection). A web connection lives for
    # one request, so a larger cache never served a second one; at 16 MB it
    # only kept 16 MB a thread after every large page.
    'cache_size': -2000,
}


def connect_database(url):
    """A peewee Database for `url` (any playhouse.db_url URL)."""
    options = {}
    if url.startswith('sqlite'):
        # IMMEDIATE: a read-then-write transaction takes the write lock up
        # front, so concurrent writers wait (busy_timeout) instead of failing
        # with "database is locked" when they try to upgrade their lock.
        options = {'pragmas': SQLITE_PRAGMAS, 'lock_type': 'IMMEDIATE',
                   'check_same_thread': False}
        path = plain_sqlite_file(url)
        if path:
            return peewee.SqliteDatabase(path, **options)
    from playhouse import db_url  # only here: see plain_sqlite_file

    return db_url.connect(url, **options)


def plain_sqlite_file(url):
    """The file of a plain sqlite:///path URL (no options), as
    playhouse.db_url reads it, else None. Read here because db_url loads
    the modules of every backend it knows: 1.7 MB in each process (SPEC P6)."""
    parsed = urlparse(url)
    plain = (parsed.scheme == 'sqlite' and not parsed.netloc and not parsed.params
             and not parsed.query and not parsed.fragment)
    return (parsed.path[1:] or None) if plain else None


def init_database(url):
    db = connect_database(url)
    database.initialize(db)
    return db


def is_sqlite():
    return isinstance(database.obj, peewee.SqliteDatabase)


def streaming_cursor(query, rows_per_fetch=2000):
    """A raw cursor over `query` that streams rows: exports and reports read
    100,000s of rows and must not hold them all. Raw rows, because peewee's
    model conversion would parse each date only for a writer to print it."""
    if is_sqlite():
        return database.execute(query)
    # PostgreSQL streams only from a named (server-side) cursor; WITH HOLD
    # because peewee runs in autocommit mode.
    sql, params = query.sql()
    cursor = database.connection().cursor(name=f'stream_{uuid.uuid4().hex}', withhold=True)
    cursor.itersize = rows_per_fetch
    cursor.execute(sql, params)
    return cursor


def is_locked(exc):
    """SQLite's "database is locked" / "busy": another writer holds the
    lock, or this connection reads an old snapshot it cannot write on."""
    text = str(exc).lower()
    return isinstance(exc, peewee.OperationalError) and ('locked' in text or 'busy' in text)


def retry_locked(write, delays=LOCKED_RETRY_DELAYS):
    """write(), tried again while SQLite says the database is locked by a
    writer that holds it longer than busy_timeout."""
    for delay in (*delays, None):
        try:
            return write()
        except peewee.OperationalError as exc:
            if delay is None or not is_locked(exc) or database.in_transaction():
                raise
            log.warning('database is locked; trying again in %g s', delay)
        time.sleep(delay)
