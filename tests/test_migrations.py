"""Migrations: a database made by each earlier release upgrades to exactly
the schema of a fresh install, and a fresh install has exactly the schema of
the live models. The released databases are fixed dumps under tests/data/
(`released_*` from the first release, `release2_*` from the second, made with
`sqlite3 .dump` and `pg_dump --no-owner --no-privileges`); the check runs on
SQLite, and on PostgreSQL with --backend=postgres."""
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing, contextmanager
from urllib.parse import urlsplit

import pytest

from app.db import database, init_database
from app.migrations import DIRECTORY, apply_migrations
from app.services import accounts
from app.models import (MODELS, Appointment, JobRun, OutboxMessage, ScheduledReport, Treatment,
                        TreatmentVersion, User, WorkingHours)
from tests.conftest import BACKEND, ROOT, bound_database, create_postgres_database, postgres_bin

DUMPS = ROOT / 'tests' / 'data'
HISTORY = 'schema_migration'
MIGRATIONS = sorted(path.stem for path in DIRECTORY.glob('[0-9]*.py'))
ON_POSTGRES = BACKEND == 'postgres'


def schema_of(db):
    """Tables with their columns, indexes (with any partial-index WHERE) and
    foreign keys. Columns are compared by name: a column added by a later
    step sits at the end of its table, and that order means nothing."""
    return {table: {
        'columns': {c.name: (c.full_type.lower(), c.null, c.primary_key, c.default)
                    for c in db.get_columns(table)},
        'indexes': {i.name: (i.unique, tuple(i.columns), ' '.join((i.sql or '').split()))
                    for i in db.get_indexes(table)},
        'foreign_keys': sorted((fk.column, fk.dest_table, fk.dest_column,
                                (fk.on_delete or '').upper()) for fk in db.get_foreign_keys(table)),
    } for table in db.get_tables() if table != HISTORY}


def differences(actual, expected):
    """One line per table, column, index or foreign key list that differs."""
    lines = []
    for table in sorted(set(actual) | set(expected)):
        if table not in actual or table not in expected:
            lines.append(f'table {table}: only in {"actual" if table in actual else "expected"}')
            continue
        mine, theirs = actual[table], expected[table]
        for part in ('columns', 'indexes'):
            for name in sorted(set(mine[part]) | set(theirs[part])):
                if mine[part].get(name) != theirs[part].get(name):
                    lines.append(f'{table} {part[:-1]} {name}: {mine[part].get(name)} '
                                 f'!= {theirs[part].get(name)}')
        if mine['foreign_keys'] != theirs['foreign_keys']:
            lines.append(f'{table} foreign keys: {mine["foreign_keys"]} != {theirs["foreign_keys"]}')
    return lines


@pytest.fixture
def blank_database(tmp_path, backend_env):
    """A factory of empty databases, as URLs, on the backend under test."""
    def make(name):
        if not ON_POSTGRES:
            return f'sqlite:///{tmp_path / name}.db'
        return create_postgres_database(backend_env['DATABASE_URL'], name)
    return make


RELEASES = ('released', 'release2')


def load_released_dump(url, release='released'):
    """Recreate a release's database (schema and a few rows)."""
    if not ON_POSTGRES:
        with closing(sqlite3.connect(url.removeprefix('sqlite:///'))) as conn:
            conn.executescript((DUMPS / f'{release}_sqlite.sql').read_text())
        return
    parts = urlsplit(url)
    subprocess.run([postgres_bin('psql'), '-q', '-v', 'ON_ERROR_STOP=1', '-h', parts.hostname,
                    '-p', str(parts.port), '-U', parts.username, '-d', parts.path.lstrip('/'),
                    '-f', str(DUMPS / f'{release}_postgres.sql')],
                   check=True, capture_output=True, timeout=60)


@contextmanager
def models_created_in(url):
    """The schema that create_tables makes of the live models."""
    previous = database.obj
    init_database(url)
    try:
        with database.connection_context():
            database.create_tables(MODELS)
            yield database.obj
    finally:
        database.initialize(previous)


def applied(db):
    return sorted(name for name, in db.execute_sql(f'SELECT name FROM {HISTORY}'))


@pytest.mark.parametrize('release', RELEASES)
def test_a_released_database_upgrades_to_the_schema_of_a_fresh_install(blank_database, release):
    released, fresh = blank_database(release), blank_database('fresh')
    load_released_dump(released, release)
    with bound_database(released):
        upgraded_schema = schema_of(database.obj)
        assert applied(database.obj) == MIGRATIONS
    with bound_database(fresh):
        fresh_schema = schema_of(database.obj)
    assert differences(upgraded_schema, fresh_schema) == []


def test_an_upgraded_database_keeps_its_rows(blank_database):
    released = blank_database('released')
    load_released_dump(released)
    with bound_database(released):
        assert User.select().count() == 3
        assert User.by_email('patient1@example.test').role == 'patient'
        assert OutboxMessage.get().to == 'patient1@example.test'
        assert ScheduledReport.get().name == 'Weekly bookings'
        assert JobRun.get().slot == '2026-01-05'


def test_the_second_release_keeps_its_people_visits_and_amendments(blank_database):
    released = blank_database('release2')
    load_released_dump(released, 'release2')
    with bound_database(released):
        assert applied(database.obj) == MIGRATIONS
        assert User.by_email('desk2@example.test').role == 'reception'
        doctor = User.by_email('doctor2@example.test')
        assert WorkingHours.select().where(WorkingHours.doctor == doctor.id).count() == 5
        visits = {a.date.isoformat(): a.status for a in Appointment.select()}
        assert visits == {'2026-11-03': 'completed', '2026-11-30': 'booked'}
        assert [v.diagnosis for v in TreatmentVersion.select()] == ['Cold']
        assert Treatment.get().diagnosis == 'Seasonal cold'


def test_patients_of_a_released_database_can_be_found(blank_database):
    released = blank_database('released')
    load_released_dump(released)
    with bound_database(released):
        total, found = accounts.list_patients('one')
        assert total == 1 and found[0].email == 'patient1@example.test'
        assert accounts.list_patients('patient1@')[0] == 1
        assert found[0].date_of_birth is None


def test_doctors_of_a_released_database_get_the_default_week_and_visits_keep_their_start(
        blank_database):
    released = blank_database('released')
    load_released_dump(released)
    with bound_database(released):
        doctor = User.by_email('doctor1@example.test')
        hours = [(h.weekday, h.start, h.end) for h in
                 WorkingHours.select().where(WorkingHours.doctor == doctor.id)
                 .order_by(WorkingHours.weekday)]
        assert hours == [(day, '09:00', '17:00') for day in range(5)]
        assert doctor.slot_minutes == 30
        assert not WorkingHours.select().where(WorkingHours.doctor != doctor.id).exists()
        visits = [(a.date.isoformat(), a.time, a.minutes, a.status) for a in Appointment.select()]
        assert visits and all(minutes == 30 for _, _, minutes, _ in visits)


def test_a_fresh_install_has_the_schema_of_the_models(blank_database):
    migrated, created = blank_database('migrated'), blank_database('created')
    with bound_database(migrated):
        migrated_schema = schema_of(database.obj)
    with models_created_in(created) as db:
        created_schema = schema_of(db)
    assert differences(migrated_schema, created_schema) == []


def test_a_database_with_every_step_recorded_starts_without_the_runner(blank_database):
    """The usual start: every step is in the history, so nothing runs and
    neither the runner nor its migrator modules are loaded (SPEC §7 P6)."""
    url = blank_database('current')
    with bound_database(url):
        assert applied(database.obj) == MIGRATIONS
    code = ('import sys; from app.db import init_database; '
            'from app.migrations import apply_migrations; '
            f'init_database({url!r}); '
            "print(apply_migrations(), 'playhouse.migrations' in sys.modules)")
    started = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    assert started.stdout.split() == ['[]', 'False'], started.stderr[-2000:]


def test_starters_at_the_same_moment_apply_each_step_once(blank_database):
    """Web and worker (here four threads, each with its own connection)
    migrate one new database at once: none fails, each step runs once."""
    url = blank_database('concurrent')
    previous = database.obj
    init_database(url)
    errors, start = [], threading.Barrier(4)

    def starter():
        start.wait()
        try:
            apply_migrations()
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    try:
        threads = [threading.Thread(target=starter) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert apply_migrations() == []
        with database.connection_context():
            assert applied(database.obj) == MIGRATIONS
    finally:
        database.initialize(previous)
