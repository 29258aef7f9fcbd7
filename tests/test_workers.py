"""One worker identity, one death rule, compare-and-set claims (app.workers)."""
import datetime
import importlib.util
import os
import socket
import sqlite3
import subprocess
import threading
from contextlib import closing

import pytest
from playhouse.migrate import SchemaMigrator

from app import workers
from app.db import connect_database, database
from app.models import JobRun, WorkerHeartbeat, utcnow
from tests.conftest import BACKEND, ROOT, create_postgres_database, drop_postgres_database


def dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


def beat_elsewhere(name, token, beat_at):
    WorkerHeartbeat.insert(worker=name, token=token, beat_at=beat_at,
                           periodic=False).execute()


def test_identity_names_host_pid_and_a_token_of_this_process():
    host, pid, token = workers.identity().split(':')
    assert (host, pid) == (socket.gethostname(), str(os.getpid()))
    assert len(token) == 8 and workers.identity() == workers.identity()
    assert workers.heartbeat_name() == f'{host}:{pid}'


def test_a_forked_child_draws_an_identity_of_its_own():
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        os.write(write, workers.identity().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    theirs = os.read(read, 200).decode()
    os.close(read)
    host, pid, token = theirs.split(':')
    assert (host, pid) == (socket.gethostname(), str(child))
    assert token != workers.token()  # not inherited with the parent's memory


def test_an_owner_on_this_host_is_alive_while_the_os_has_its_pid(settings):
    host = socket.gethostname()
    sleeper = subprocess.Popen(['sleep', '30'])
    try:
        assert workers.alive(workers.identity())
        assert workers.alive(f'{host}:{sleeper.pid}:a1b2c3d4')
        assert not workers.alive(f'{host}:{dead_pid()}:a1b2c3d4')
        # Our own pid under another token: the process before a restart.
        assert not workers.alive(f'{host}:{os.getpid()}:0ldt0ken')
        assert not workers.alive(None) and not workers.alive('')
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_owner_on_another_host_is_alive_while_its_heartbeat_is_fresh(own_db):
    now = utcnow()
    window = workers.window(own_db)
    beat_elsewhere('fresh-host:7', 'aaaa1111', now - window / 2)
    beat_elsewhere('stale-host:7', 'bbbb2222', now - window - datetime.timedelta(seconds=1))
    assert workers.alive('fresh-host:7:aaaa1111', now)
    assert not workers.alive('stale-host:7:bbbb2222', now)
    assert not workers.alive('silent-host:7:cccc3333', now)  # never beat
    # Same host name and pid, another token: the container restarted and
    # its new consumer is not the one that claimed the work.
    assert not workers.alive('fresh-host:7:0ldt0ken', now)


def test_the_death_window_follows_the_heartbeat_interval(settings):
    assert workers.window(settings.with_changes(heartbeat_seconds=1.0)) == workers.MIN_WINDOW
    assert (workers.window(settings.with_changes(heartbeat_seconds=20.0))
            == datetime.timedelta(seconds=60))


def test_a_restarted_consumer_replaces_the_heartbeat_of_its_pid(own_db):
    name = workers.heartbeat_name()
    beat_elsewhere(name, '0ldt0ken', utcnow() - datetime.timedelta(minutes=5))
    workers.beat(periodic=True)
    beat = WorkerHeartbeat.get_by_id(name)
    assert beat.token == workers.token() and beat.beat_at > utcnow() - workers.window(own_db)
    assert workers.alive(workers.identity())


def test_work_is_lost_only_after_the_grace_and_when_the_queue_can_say_so():
    now = utcnow()
    long_ago = now - workers.QUEUE_GRACE * 2
    reads = []
    queue = workers.Queue(lambda: reads.append(1) or {'waiting-task'})
    assert not queue.lost('any-task', now, now)       # within the grace
    assert queue.lost('gone-task', long_ago, now)
    assert not queue.lost('waiting-task', long_ago, now)
    assert len(reads) == 1                             # read once per pass
    assert not workers.Queue(lambda: None).lost('gone-task', long_ago, now)  # unreadable


def running_slot(owner, attempts=1):
    return JobRun.create(job='test-claims', slot=os.urandom(4).hex(), status='running',
                         owner=owner, attempts=attempts)


def race(action, row_id, count=2):
    """Run `action(row)` in `count` threads at once, each on the row as it
    read it before any of them wrote."""
    barrier = threading.Barrier(count)
    results = []

    def one():
        with database.connection_context():
            row = JobRun.get_by_id(row_id)
            barrier.wait()
            results.append(action(row))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_of_two_claimers_racing_for_a_dead_workers_row_one_wins(own_db):
    dead = f'{socket.gethostname()}:{dead_pid()}:a1b2c3d4'
    row = running_slot(dead)
    assert sorted(race(workers.claim, row.id)) == [False, True]
    taken = JobRun.get_by_id(row.id)
    assert (taken.owner, taken.attempts) == (workers.identity(), 2)


def test_of_two_sweeps_taking_a_dead_workers_row_back_one_wins(own_db):
    row = running_slot(f'{socket.gethostname()}:{dead_pid()}:a1b2c3d4')
    assert sorted(race(workers.release, row.id)) == [False, True]
    assert JobRun.get_by_id(row.id).owner is None


def test_a_run_taken_over_is_fenced_out_of_its_final_write(own_db):
    stale = running_slot(f'{socket.gethostname()}:{dead_pid()}:a1b2c3d4')
    fresh = JobRun.get_by_id(stale.id)
    assert workers.claim(fresh)
    assert JobRun.update(status='success').where(workers.ours(stale)).execute() == 0
    assert JobRun.update(status='success').where(workers.ours(fresh)).execute() == 1


def load_migration():
    path = ROOT / 'app' / 'migrations' / '0002_one_claim_ledger.py'
    spec = importlib.util.spec_from_file_location('one_claim_ledger', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The two tables as the previous release made them.
OLD_TABLES = '''
    CREATE TABLE "export" ("id" INTEGER NOT NULL PRIMARY KEY, "task_id" VARCHAR(64) NOT NULL,
        "status" VARCHAR(10) NOT NULL, "worker" VARCHAR(100), "worker_token" VARCHAR(32),
        "attempt" INTEGER NOT NULL, "started_at" {timestamp});
    CREATE TABLE "worker_heartbeat" ("worker" VARCHAR(100) NOT NULL PRIMARY KEY,
        "beat_at" {timestamp} NOT NULL, "started_at" {timestamp} NOT NULL,
        "periodic" {flag} NOT NULL);
    INSERT INTO "export" VALUES (1, 'a', 'running', 'host:12', 'f00d', 2, NULL),
                                (2, 'b', 'queued', NULL, NULL, 0, NULL);
'''


@pytest.fixture
def old_database(tmp_path, backend_env):
    """A database of the backend under test holding OLD_TABLES, open."""
    if BACKEND != 'postgres':
        url = f'sqlite:///{tmp_path / "old.db"}'
        with closing(sqlite3.connect(url.removeprefix('sqlite:///'))) as conn:
            conn.executescript(OLD_TABLES.format(timestamp='DATETIME', flag='INTEGER'))
    else:
        url = create_postgres_database(backend_env['DATABASE_URL'], 'old')
    db = connect_database(url)
    try:
        with db:
            if BACKEND == 'postgres':
                db.execute_sql(OLD_TABLES.format(timestamp='TIMESTAMP', flag='BOOLEAN'))
            yield db
    finally:
        if BACKEND == 'postgres':
            drop_postgres_database(backend_env['DATABASE_URL'], url)


def test_migration_moves_an_exports_worker_and_token_into_its_owner(old_database):
    db = old_database
    with db.atomic():
        load_migration().up(SchemaMigrator.from_database(db), db)
    columns = [c.name for c in db.get_columns('export')]
    rows = db.execute_sql('SELECT id, owner, attempts FROM export ORDER BY id').fetchall()
    beat_columns = [c.name for c in db.get_columns('worker_heartbeat')]
    assert 'worker' not in columns and 'worker_token' not in columns and 'attempt' not in columns
    assert rows == [(1, 'host:12:f00d', 2), (2, None, 0)]
    assert 'token' in beat_columns
