"""redis-py's "Redis cannot be reached" errors, without importing redis-py.

A process started without REDIS_URL never loads redis-py (run.py keeps it
out, as it keeps psycopg2 out with SQLite). There these errors cannot
happen: the tuple is empty, which an except clause accepts and never
matches. Except clauses are evaluated only when an exception is on its way,
so asking each time costs nothing on the normal path."""
import sys


def unreachable():
    exceptions = sys.modules.get('redis.exceptions')
    if exceptions is None:
        return ()
    return (exceptions.ConnectionError, exceptions.TimeoutError)
