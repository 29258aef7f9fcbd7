"""SPEC §7 P2: daily reminders for 10,000 booked appointments today, all
accepted by a local SMTP sink, in at most 2x the time plain smtplib needs to
send as many ready-made messages over one connection to the same sink.

Fills a temporary data dir (SQLite database and queue), starts a real
consumer (`run.py worker`), enqueues the reminder job and times it until the
sink has accepted every reminder. Then sends the very same messages, already
built, with smtplib over one connection. The sink runs in a process of its
own and only counts.

    python bench/reminders_p2.py [--appointments N] [--workers N]
"""
import argparse
import datetime
import multiprocessing
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import database, init_database  # noqa: E402
from app.migrations import apply_migrations  # noqa: E402
from app.models import Appointment, JobRun, OutboxAttachment, OutboxMessage, User  # noqa: E402
from app.settings import load  # noqa: E402

BAR = 2.0
PER_DOCTOR = 16


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def sink_main(port, count, ready):
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with count.get_lock():
                count.value += 1
            return '250 OK'

    controller = Controller(Counter(), hostname='127.0.0.1', port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def start_sink():
    port = free_port()
    count = multiprocessing.Value('i', 0)
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=sink_main, args=(port, count, ready), daemon=True)
    proc.start()
    ready.wait(10)
    return proc, port, count


def zone_in_the_early_morning():
    """A fixed-offset zone whose clock reads 04:xx now, so today's visits
    (09:00 on) are all still ahead: the job skips visits that have started."""
    offset = (4 - datetime.datetime.now(datetime.timezone.utc).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f'Etc/GMT{-offset:+d}'  # POSIX signs: Etc/GMT-5 is UTC+5


def fill(settings, day, appointments):
    init_database(settings.database_url)
    apply_migrations()
    doctors = appointments // PER_DOCTOR + 1
    with database.connection_context(), database.atomic():
        User.insert_many([{'email': f'doctor{n}@bench.test', 'password_hash': '-',
                           'name': f'Doctor {n}', 'role': 'doctor',
                           'specialization': 'General practice'} for n in range(doctors)]).execute()
        for start in range(0, appointments, 2000):
            User.insert_many([{'email': f'patient{n}@bench.test', 'password_hash': '-',
                               'name': f'Patient {n}', 'role': 'patient'}
                              for n in range(start, min(start + 2000, appointments))]).execute()
        doctor_ids = [d for (d,) in User.select(User.id).where(User.role == 'doctor').tuples()]
        patient_ids = [p for (p,) in User.select(User.id).where(User.role == 'patient').tuples()]
        rows = [{'patient': pid, 'doctor': doctor_ids[n // PER_DOCTOR], 'date': day,
                 'time': f'{9 + n % PER_DOCTOR // 2:02d}:{30 * (n % 2):02d}'}
                for n, pid in enumerate(patient_ids)]
        for start in range(0, len(rows), 2000):
            Appointment.insert_many(rows[start:start + 2000]).execute()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise SystemExit(f'timed out waiting for {what}')


class Consumer:
    """`run.py worker` on the bench's data dir (no periodic jobs)."""

    def __init__(self, env, settings):
        self.log_path = settings.data_dir / 'worker.log'
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / 'run.py'), 'worker', '--no-periodic'], cwd=ROOT,
            env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: b'Huey consumer started' in self.log_path.read_bytes(), 30,
                 'the consumer')

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def forget_reminders():
    with database.connection_context():
        OutboxAttachment.delete().execute()
        OutboxMessage.delete().execute()
        JobRun.delete().execute()


def run_job(day, count, expected):
    import tasks

    forget_reminders()
    before = count.value
    started = time.perf_counter()
    tasks.ON_DEMAND['daily_reminders'](day.isoformat())
    wait_for(lambda: count.value - before >= expected, 600, 'every reminder at the sink')
    return time.perf_counter() - started


def ready_made(settings):
    from app import mime
    with database.connection_context():
        messages = list(OutboxMessage.select().order_by(OutboxMessage.id))
        files = {}
        for item in OutboxAttachment.select():
            files.setdefault(item.message_id, []).append(item)
        return [(m.to, mime.mime_bytes(m, files.get(m.id, ()), settings.mail_from))
                for m in messages]


def plain_smtplib(port, messages, count):
    before = count.value
    started = time.perf_counter()
    with smtplib.SMTP('127.0.0.1', port) as smtp:
        for to, raw in messages:
            smtp.sendmail('no-reply@bench.test', [to], raw)
    elapsed = time.perf_counter() - started
    assert count.value - before == len(messages)
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--appointments', type=int, default=10_000)
    parser.add_argument('--workers', type=int, default=2, help='consumer threads (WORKERS)')
    parser.add_argument('--runs', type=int, default=3, help='side-by-side runs; medians count')
    args = parser.parse_args()

    sink, port, count = start_sink()
    with tempfile.TemporaryDirectory(prefix='reminders-bench-') as data_dir:
        env = {'CLINIC_DATA_DIR': data_dir, 'SMTP_HOST': '127.0.0.1', 'SMTP_PORT': str(port),
               'WORKERS': str(args.workers), 'SECRET_KEY': 'bench-secret-key-0123456789',
               'CLINIC_TZ': zone_in_the_early_morning()}
        settings = load(env)
        day = datetime.datetime.now(settings.tz).date()
        fill(settings, day, args.appointments)
        from app.queue import configure_queue
        configure_queue(settings)
        consumer = Consumer(env, settings)
        print(f'{args.appointments:,} booked appointments today for {args.appointments:,} '
              f'patients; consumer with {args.workers} threads; {args.runs} runs', flush=True)
        ours, plain, ratios = [], [], []
        try:
            for run in range(1, args.runs + 1):
                ours.append(run_job(day, count, args.appointments))
                plain.append(plain_smtplib(port, ready_made(settings), count))
                ratios.append(ours[-1] / plain[-1])
                print(f'run {run}: reminder job (enqueue -> all accepted) {ours[-1]:.2f} s, '
                      f'plain smtplib {plain[-1]:.2f} s, ratio {ratios[-1]:.2f}', flush=True)
        finally:
            consumer.stop()
    sink.terminate()
    n = args.appointments
    ours_s, plain_s, ratio = (statistics.median(v) for v in (ours, plain, ratios))
    print(f'reminder job: {ours_s:.2f} s median ({ours_s / n * 1000:.2f} ms per email)')
    print(f'plain smtplib, ready-made messages over one connection: {plain_s:.2f} s median '
          f'({plain_s / n * 1000:.2f} ms per email)')
    print(f'P2 ratio (median of runs): {ratio:.2f}x (bar: <= {BAR:.1f}x) -> '
          f'{"PASS" if ratio <= BAR else "FAIL"}')
    return 0 if ratio <= BAR else 1


if __name__ == '__main__':
    sys.exit(main())
