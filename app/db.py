"""The database: declared once, bound at start from DATABASE_URL."""
import uuid

import peewee
from playhouse import db_url

database = peewee.DatabaseProxy()

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
    if url.startswith('sqlite'):
        # IMMEDIATE: a read-then-write transaction takes the write lock up
        # front, so concurrent writers wait (busy_timeout) instead of failing
        # with "database is locked" when they try to upgrade their lock.
        return db_url.connect(url, pragmas=SQLITE_PRAGMAS, lock_type='IMMEDIATE',
                              check_same_thread=False)
    return db_url.connect(url)


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
