"""The SQL statements peewee runs, caught from its DEBUG log: for tests and
benches that check how many queries something takes and how SQLite plans them."""
import contextlib
import logging


class Statements(logging.Handler):
    """Collects the (sql, params) peewee logs at DEBUG."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen = []

    def emit(self, record):
        if isinstance(record.msg, tuple):
            self.seen.append(record.msg)


@contextlib.contextmanager
def statements():
    """A list that fills with the (sql, params) run inside the block."""
    handler, logger = Statements(), logging.getLogger('peewee')
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def sqlite_plan(database, sql, params):
    """SQLite's query plan of one statement, a line a step."""
    return [row[-1] for row in database.execute_sql('EXPLAIN QUERY PLAN ' + sql, params)]
