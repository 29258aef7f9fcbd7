"""ClinicDesk: process-group supervisor and command line.

    python run.py                 web + worker (+ redis-server with --with-redis)
    python run.py web             only the web server (Waitress)
    python run.py worker          only the Huey consumer (--no-periodic: no crons)
    python run.py demo-data       fill the database with demo data
    python run.py create-admin EMAIL
    python run.py backup [--to DIR]
    python run.py restore ARCHIVE [--force]
"""
# Only what the supervisor's loop needs is imported here: the supervisor
# checks the settings, then goes on in a fresh interpreter that loads nothing
# else (cmd_supervise). Each command imports the rest itself.
import ctypes
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time

SCRIPT = os.path.abspath(__file__)
# The supervisor after its exec: run.py SUPERVISE LOCK_FD DATA_DIR SHUTDOWN_S REDIS(0|1)
SUPERVISE = '--supervise-checked'
log = logging.getLogger('clinicdesk.run')
# mallopt(3) parameter number, from glibc's malloc.h.
M_ARENA_MAX = -8
# The worker's batch jobs (exports, reports) yield the CPU to web requests
# when both want it: with an export running on two cores, cached stats p99
# went from 53-90 ms to 41-46 ms (SPEC P4). Idle CPU is still all theirs.
WORKER_NICENESS = 10


def setup_logging():
    logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')


def skip_unused_drivers(settings):
    """Peewee imports psycopg2 and Huey imports redis-py whenever they are
    installed; unused, that is ~10 MB (libpq and TLS) and ~20 MB per process
    for nothing (SPEC P6 memory bar). A None entry makes their imports fail,
    which both libraries treat as "not installed"."""
    if settings.database_url.startswith('sqlite'):
        sys.modules.setdefault('psycopg2', None)
    if not settings.redis_url:
        sys.modules.setdefault('redis', None)


def few_malloc_arenas():
    """glibc gives each thread that allocates its own malloc arena and keeps
    what a thread freed there. A web thread that read a large page holds on
    to that memory long after the request (measured: +66 MB after 200 page
    views at a million appointments, +24 MB with two arenas). Two arenas
    serve eight threads with no measurable loss. Not glibc: nothing to do."""
    from app.memory import libc  # ctypes.util: not in the supervisor, which needs none of this

    try:
        libc().mallopt(M_ARENA_MAX, 2)
    except AttributeError:
        pass


def _exit_on_term():
    # Waitress shuts its threads down on SystemExit; the exit code stays 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


PR_SET_PDEATHSIG = 1
LOCK_NAME = 'supervisor.lock'


def _die_with_parent():
    """In a supervised child between fork and exec: the kernel sends it
    SIGTERM when the supervisor dies, even by kill -9 (the setting survives
    exec), so no web or worker runs on unsupervised."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the child's parent watch still notices
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)


def _watch_parent():
    """A supervised child also watches its parent: once it is gone (the
    child was adopted), stop the graceful way. A fallback where
    PR_SET_PDEATHSIG is not available."""
    import threading

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        log.warning('the supervisor is gone; stopping')
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name='parent-watch').start()


def lock_data_dir(data_dir):
    """An exclusive lock on the data dir for this supervisor's life, or
    None when another supervisor holds it. flock dies with its process, so a
    lock left by a killed supervisor is no obstacle."""
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.fchmod(fd, 0o600)
    os.ftruncate(fd, 0)
    os.write(fd, f'{os.getpid()}\n'.encode())
    return fd


def _holder(data_dir):
    try:
        return (data_dir / LOCK_NAME).read_text().strip() or 'unknown'
    except OSError:
        return 'unknown'


def cmd_web(settings, args):
    import gc

    if not settings.redis_url:
        # Bottle imports http.client, which loads ssl (3.4 MB of libssl)
        # when it can. The web serves plain HTTP behind the TLS proxy and
        # sends no mail itself; redis-py needs ssl even without TLS.
        sys.modules.setdefault('ssl', None)
    from app.boot import boot
    from app.factory import create_app
    from app.web.server import web_server
    import tasks  # noqa: F401  (registers the tasks the views enqueue)

    boot(settings)
    app = create_app(settings)
    # What start-up built lives as long as the process: keep it out of the
    # collector's full passes, which would otherwise walk it all (~40 ms with
    # every thread stopped) and show in the p99 of every route (SPEC P4).
    gc.freeze()
    _exit_on_term()
    if args.supervised:
        _watch_parent()
    server = web_server(app, settings)
    # Said once the socket is bound: whoever waits for this line can connect.
    log.info('web listening on http://%s:%s', settings.host, settings.port)
    server.run()
    log.info('web stopped')
    return 0


def cmd_worker(settings, args):
    from app.boot import boot
    from app.consumer import run_consumer
    import tasks  # noqa: F401  (registers the tasks and periodic jobs)

    os.nice(WORKER_NICENESS)
    boot(settings)
    if args.supervised:
        _watch_parent()
    return run_consumer(settings, periodic=not args.no_periodic)


def cmd_demo_data(settings, args):
    from app.boot import boot
    from app.db import database
    from app.errors import ApiError
    from app.runtime import clock
    from app.services.demo_data import generate

    boot(settings)
    started = time.monotonic()
    try:
        with database.connection_context():
            counts = generate(clock(), doctors=args.doctors, patients=args.patients,
                              appointments=args.appointments, seed=args.seed,
                              password=args.password, progress=lambda msg: log.info('%s', msg))
    except ApiError as exc:
        print(f'demo-data: {exc.message}', file=sys.stderr)
        return 1
    summary = ', '.join(f'{value} {key}' for key, value in counts.items())
    log.info('demo data ready in %.1f s: %s', time.monotonic() - started, summary)
    print(f'Log in as doctor1@demo.clinic, patient1@demo.clinic or reception1@demo.clinic '
          f'with password {args.password!r}')
    return 0


def cmd_create_admin(settings, args):
    import getpass

    from app.boot import boot
    from app.db import database
    from app.errors import ApiError
    from app.services.accounts import create_or_reset_admin

    boot(settings)
    password = settings.admin_password
    if not password:
        if not sys.stdin.isatty():
            print('create-admin: set ADMIN_PASSWORD or run in a terminal to be prompted',
                  file=sys.stderr)
            return 2
        password = getpass.getpass('Password for %s: ' % args.email)
        if getpass.getpass('Repeat password: ') != password:
            print('create-admin: the passwords differ', file=sys.stderr)
            return 2
    try:
        with database.connection_context():
            _, created = create_or_reset_admin(args.email, password)
    except ApiError as exc:
        print(f'create-admin: {exc.message}', file=sys.stderr)
        return 2
    print(('created' if created else 'reset') + f' admin {args.email.strip().lower()}')
    return 0


def cmd_backup(settings, args):
    from app.services.backup import BackupError, create_backup

    try:
        backup = create_backup(settings, dest_dir=args.to)
    except BackupError as exc:
        print(f'backup: {exc.message}', file=sys.stderr)
        return 1
    log.info('backup written: %s (%d bytes, %d files, %.1f s)', backup.path.name, backup.size,
             backup.files, backup.seconds)
    print(backup.path)
    return 0


def cmd_restore(settings, args):
    from app.services.backup import BackupError, restore

    try:
        result = restore(args.archive, settings, force=args.force)
    except BackupError as exc:
        print(f'restore: {exc.message}', file=sys.stderr)
        return 1
    print(f"restored {result['archive']} ({result['database']}, {result['files']} files, "
          f"taken {result['created_at']}) into {settings.data_dir}")
    return 0


class Child:
    """One supervised process, restarted with backoff when it dies."""

    def __init__(self, name, argv, env):
        self.name, self.argv, self.env = name, argv, env
        self.proc = None
        self.started_at = 0.0
        self.failures = 0
        self.restart_at = 0.0

    def start(self):
        # A session of its own: Ctrl-C in the terminal reaches only the
        # supervisor, which then stops each child the graceful way.
        self.proc = subprocess.Popen(self.argv, env=self.env, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.started_at = time.monotonic()
        log.info('started %s (pid %s)', self.name, self.proc.pid)

    def check(self, now):
        """Restart if it died; backoff 1, 2, 4 ... 30 s, reset after 60 s up."""
        if self.proc is not None:
            code = self.proc.poll()
            if code is None:
                if now - self.started_at > 60:
                    self.failures = 0
                return
            self.failures += 1
            delay = min(30.0, 2.0 ** (self.failures - 1))
            log.warning('%s exited with code %s; restarting in %.0f s', self.name, code, delay)
            self.proc = None
            self.restart_at = now + delay
        if now >= self.restart_at:
            self.start()

    def stop(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, deadline):
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning('%s did not stop in time; killing it', self.name)
            self.proc.kill()
            self.proc.wait()


def _redis_child(data_dir, env):
    from urllib.parse import urlparse

    url = env.get('REDIS_URL') or 'redis://127.0.0.1:6379/0'
    env['REDIS_URL'] = url
    port = urlparse(url).port or 6379
    redis_dir = os.path.join(data_dir, 'redis')
    os.makedirs(redis_dir, exist_ok=True)
    argv = ['redis-server', '--bind', '127.0.0.1', '--port', str(port),
            '--dir', redis_dir, '--appendonly', 'yes', '--save', '',
            '--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning']
    return Child('redis', argv, env), port


def _wait_for_redis(port, timeout=10.0):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5) as sock:
                sock.sendall(b'PING\r\n')
                if sock.recv(16).startswith(b'+PONG'):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def cmd_supervise(settings, args):
    lock = lock_data_dir(settings.data_dir)
    if lock is None:
        print(f'run.py: another supervisor (pid {_holder(settings.data_dir)}) is running on '
              f'{settings.data_dir}; stop it first', file=sys.stderr)
        return 1
    # The settings are valid and the data dir is ours. The rest is a loop
    # over the children, which read the settings themselves: it goes on in
    # this process (same pid, same lock) with a fresh interpreter that loads
    # none of the app. The settings' imports were a third of the
    # supervisor's 18 MB (SPEC P6).
    os.set_inheritable(lock, True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, SCRIPT, SUPERVISE, str(lock),
                              str(settings.data_dir), str(settings.shutdown_timeout),
                              '1' if args.with_redis else '0'])


def supervise_checked(lock, data_dir, shutdown_timeout, with_redis):
    """The supervisor once cmd_supervise has checked the settings and
    locked the data dir; the lock is held until this returns."""
    try:
        return _supervise(data_dir, float(shutdown_timeout), with_redis == '1')
    finally:
        os.close(int(lock))  # releases the flock


def _supervise(data_dir, shutdown_timeout, with_redis):
    env = dict(os.environ)
    infra = []
    if with_redis:
        redis_child, port = _redis_child(data_dir, env)
        redis_child.start()
        if not _wait_for_redis(port):
            log.error('redis-server did not answer on port %s', port)
            redis_child.stop(signal.SIGTERM)
            return 1
        infra.append(redis_child)
    children = [Child('web', [sys.executable, SCRIPT, '--supervised', 'web'], env),
                Child('worker', [sys.executable, SCRIPT, '--supervised', 'worker'], env)]
    for child in children:
        child.start()

    stopping = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    while not stopping:
        now = time.monotonic()
        for child in infra + children:
            child.check(now)
        time.sleep(0.2)

    log.info('stopping (%s)', signal.Signals(stopping[0]).name)
    # SIGTERM to both: Waitress finishes its requests, the consumer (started
    # with graceful_signal=TERM) finishes running tasks within its timeout.
    for child in children:
        child.stop(signal.SIGTERM)
    deadline = time.monotonic() + shutdown_timeout + 5
    for child in children:
        child.wait(deadline)
    for child in infra:
        child.stop(signal.SIGTERM)
        child.wait(time.monotonic() + 10)
    log.info('stopped')
    return 0


def parse_args(argv):
    import argparse

    parser = argparse.ArgumentParser(prog='run.py', description='ClinicDesk')
    parser.add_argument('--with-redis', action='store_true',
                        help='also start redis-server (data in $CLINIC_DATA_DIR/redis)')
    # Set by the supervisor on its children: stop when it is gone.
    parser.add_argument('--supervised', action='store_true', help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest='command')
    sub.add_parser('web', help='only the web server')
    worker = sub.add_parser('worker', help='only the Huey consumer')
    worker.add_argument('--no-periodic', action='store_true',
                        help='do not run periodic jobs (all workers but one, when scaling out)')
    demo = sub.add_parser('demo-data', help='fill the database with demo data')
    demo.add_argument('--doctors', type=int, default=8)
    demo.add_argument('--patients', type=int, default=60)
    demo.add_argument('--appointments', type=int, default=1500)
    demo.add_argument('--seed', type=int, default=1)
    demo.add_argument('--password', default='demo-pass-123')
    admin = sub.add_parser('create-admin', help='create or reset an admin')
    admin.add_argument('email')
    backup = sub.add_parser('backup', help='write a backup archive while the app runs')
    backup.add_argument('--to', help='folder for the archive (default: BACKUP_DIR)')
    restore = sub.add_parser('restore', help='restore a backup archive into the data dir')
    restore.add_argument('archive')
    restore.add_argument('--force', action='store_true',
                         help='overwrite a data dir that is not empty')
    return parser.parse_args(argv)


COMMANDS = {None: cmd_supervise, 'web': cmd_web, 'worker': cmd_worker,
            'demo-data': cmd_demo_data, 'create-admin': cmd_create_admin,
            'backup': cmd_backup, 'restore': cmd_restore}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [SUPERVISE]:
        setup_logging()
        return supervise_checked(*argv[1:])
    from app.file_modes import PRIVATE_UMASK
    from app.settings import ConfigError, load

    args = parse_args(argv)
    setup_logging()
    # Before anything is created: the data dir, the secret key, children's files.
    os.umask(PRIVATE_UMASK)
    try:
        settings = load()
    except ConfigError as exc:
        print(f'configuration error: {exc}', file=sys.stderr)
        return 2
    if args.command is not None:
        skip_unused_drivers(settings)
        few_malloc_arenas()
    return COMMANDS[args.command](settings, args) or 0


if __name__ == '__main__':
    sys.exit(main())
