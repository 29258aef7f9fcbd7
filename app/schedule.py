"""Clinic-time periodic jobs and the ledger of their slots.

Huey's crontab has no zone and never catches up a minute it missed (the
consumer checks about once a minute, and only while it is up). So each
periodic job is a Job here: when it falls due in CLINIC_TZ and how long a
missed slot is still worth running (the jobs themselves are listed in
app.services.periodic). The JobRun table is the ledger: a run
claims its (job, slot) row before working and marks it success or failed.
The validator Huey calls says yes while the latest slot is due and not done,
which gives catch-up after downtime; the claim makes a duplicate enqueue, a
retry or a second consumer a no-op.
"""
import dataclasses
import datetime
import logging
import threading
import traceback

from app import batch, workers
from app.clock import naive_utc
from app.db import retry_locked
from app.models import JobRun, utcnow
from app.recurrence import Recurrence

log = logging.getLogger('clinicdesk.schedule')

# No run takes this long; a 'running' row this old is retaken whoever owns it
# (guards against a reused pid keeping a dead run alive).
MAX_RUN = datetime.timedelta(hours=2)
# A failed slot is retried by the scheduler after this pause, this many times
# in all (Huey's own retries cover the quick transient failures first).
FAILED_RETRY_AFTER = datetime.timedelta(minutes=10)
MAX_SLOT_ATTEMPTS = 6
# Interrupted runs older than this are not restarted any more.
RESTART_WINDOW = datetime.timedelta(days=2)


# A partial run is done: what it skipped would fail again the same way;
# "Run now" retries it once the bad record is fixed.
DONE = ('success', 'partial')


def month_key(day):
    return f'{day.year:04d}-{day.month:02d}'


def previous_month(day):
    """'YYYY-MM' of the calendar month before the one `day` is in."""
    return month_key(day.replace(day=1) - datetime.timedelta(days=1))


@dataclasses.dataclass(frozen=True)
class Slot:
    job: str
    key: str                  # ledger key: '2026-03-10' (day) or '2026-02' (month reported)
    at: datetime.datetime     # aware, clinic time: when it falls due


@dataclasses.dataclass(frozen=True)
class Job:
    """A daily job (every day at `wall`, its slot is that day) or a monthly
    one (the 1st at `wall`, its slot is the month before). A missed monthly
    slot is worth running any time; a daily one only until its clinic day
    ends, unless `late` says it is worth it later too."""
    name: str
    tz: datetime.tzinfo
    wall: datetime.time
    monthly: bool = False
    late: bool = False

    @property
    def schedule(self):
        when = f'{self.wall:%H:%M} {self.tz.key}'
        return f'on the 1st of each month at {when}' if self.monthly else f'every day at {when}'

    @property
    def recurrence(self):
        if self.monthly:
            return Recurrence('monthly', self.wall, day=1)
        return Recurrence('daily', self.wall)

    def _slot(self, due):
        day, at = due
        return Slot(self.name, previous_month(day) if self.monthly else day.isoformat(), at)

    def latest_slot(self, now):
        """The most recent slot due at or before `now`."""
        return self._slot(self.recurrence.latest_due(now, self.tz))

    def next_slot(self, now):
        """The first slot due after `now`."""
        return self._slot(self.recurrence.next_due(now, self.tz))

    def still_meaningful(self, key, now):
        """Whether the slot `key` is still worth running at `now`."""
        if self.monthly or self.late:
            return True
        return datetime.date.fromisoformat(key) >= now.astimezone(self.tz).date()


def last_run(name):
    """The latest ledger row of `name`, or None."""
    return (JobRun.select()
            .where(JobRun.job == name)
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .first())


def abandoned(run, now_utc):
    """A 'running' row nobody is working on any more."""
    return (run.status == 'running'
            and (run.started_at < now_utc - MAX_RUN or not workers.alive(run.owner, now_utc)))


def running(name, key, now_utc=None):
    """The 'running' row of slot (name, key) while a live process works on
    it, else None: what a claim of it would wait for."""
    run = JobRun.get_or_none(JobRun.job == name, JobRun.slot == key)
    if run is None or run.status != 'running' or abandoned(run, now_utc or utcnow()):
        return None
    return run


def due_slot(job, now):
    """The slot of `job` that should run now, or None: the latest slot, if
    still meaningful and not done, not running elsewhere, and not given up."""
    slot = job.latest_slot(now)
    if not job.still_meaningful(slot.key, now):
        return None
    run = JobRun.get_or_none(JobRun.job == job.name, JobRun.slot == slot.key)
    now_utc = naive_utc(now)
    if run is None or abandoned(run, now_utc):
        return slot
    if run.status == 'failed' and run.attempts < MAX_SLOT_ATTEMPTS:
        return slot if (run.finished_at or run.started_at) <= now_utc - FAILED_RETRY_AFTER else None
    return None


def claim(name, key, now_utc=None, force=False):
    """Take the (name, key) slot for this process; the JobRun, or None when
    it is done (unless `force`) or another live process is running it."""
    now_utc = now_utc or utcnow()
    fresh = {'status': 'running', 'started_at': now_utc, 'finished_at': None, 'error': None}
    inserted = list(JobRun.insert(job=name, slot=key, owner=workers.identity(), attempts=1,
                                  **fresh)
                    .on_conflict_ignore()
                    .returning(JobRun.id)
                    .execute())
    if inserted:
        return retry_locked(lambda: JobRun.get_by_id(inserted[0].id))
    run = JobRun.get_or_none(JobRun.job == name, JobRun.slot == key)
    if run is None:
        return None
    if run.status == 'running' and not abandoned(run, now_utc):
        return None
    if run.status in DONE and not force:
        return None
    return run if workers.claim(run, **fresh) else None


# Outcomes this process could not write yet (the database stayed locked):
# the consumer's heartbeat writes them, so no slot stays 'running' while its
# owner lives on. If the owner dies, the death rule reclaims the slot.
_unwritten = []
_unwritten_lock = threading.Lock()


def finish(run, status, error=None, detail=None):
    """Record how the run went; retried while the database is locked, then
    left for finish_unwritten() rather than lost."""
    def write():
        (JobRun.update(status=status, finished_at=utcnow(), error=error, detail=detail)
         .where(workers.ours(run))
         .execute())
    try:
        retry_locked(write)
    except Exception as exc:
        log.error('%s %s: could not record it as %s (%s); trying again with the heartbeat',
                  run.job, run.slot, status, type(exc).__name__)
        with _unwritten_lock:
            _unwritten.append(write)
        raise


def finish_unwritten():
    """Write the outcomes finish() could not; how many are still unwritten."""
    with _unwritten_lock:
        pending = list(_unwritten)
        _unwritten.clear()
    for write in pending:
        try:
            write()
        except Exception:
            with _unwritten_lock:
                _unwritten.append(write)
    return len(_unwritten)


def recover(jobs, now):
    """(job, slot) of the runs a dead consumer left 'running' that are still
    worth finishing, for the caller to queue again; the others are marked
    failed. `jobs` is {name: Job}: runs of other jobs are left alone. The
    re-run's claim takes the slot over."""
    now_utc = naive_utc(now)
    running = list(JobRun.select()
                   .where(JobRun.status == 'running',
                          JobRun.started_at > now_utc - RESTART_WINDOW))
    restart = []

    def take_back(run):
        if run.job not in jobs or not abandoned(run, now_utc):
            return
        if jobs[run.job].still_meaningful(run.slot, now):
            restart.append((run.job, run.slot))
        else:
            finish(run, 'failed', error='interrupted: the consumer running it stopped')

    batch.each(running, take_back, 'job run')
    return restart


def run_slot(name, key, work, force=False, now_utc=None):
    """Claim (name, key), run `work()`, record how it went; work's result,
    or a 'skipped' note when the slot is done or busy elsewhere. Errors are
    recorded and re-raised so Huey's retries apply."""
    run = claim(name, key, now_utc=now_utc, force=force)
    if run is None:
        log.info('%s %s: already done or running elsewhere; skipped', name, key)
        return {'job': name, 'slot': key, 'skipped': 'already done or running'}
    try:
        result = work()
    except Exception as exc:
        _finish_failed(run, exc)
        raise
    failed = result.get('failed') if isinstance(result, dict) else None
    if failed:
        finish(run, 'partial', error=batch.summary(failed)[:2000], detail=result)
    else:
        finish(run, 'success', detail=result)
    return result


def _finish_failed(run, exc):
    # A cursor the work left half-read pins an old snapshot on this
    # connection, and every write on it would fail as "database is locked":
    # drop the work's locals (the traceback keeps its lines).
    traceback.clear_frames(exc.__traceback__)
    # The work's error is the one Huey must see, not a failed ledger write.
    try:
        finish(run, 'failed', error=f'{type(exc).__name__}: {exc}'[:2000])
    except Exception:
        pass  # logged by finish and left for finish_unwritten


def run_due(job, now, work):
    """The body of a periodic task: run the due slot of `job`, if any.
    `work(slot)` does the job for that slot. The claim, not due_slot(),
    decides here, so Huey's retries of a failed run are not held back."""
    slot = job.latest_slot(now)
    if not job.still_meaningful(slot.key, now):
        return {'job': job.name, 'slot': slot.key, 'skipped': 'no longer meaningful'}
    return run_slot(job.name, slot.key, lambda: work(slot), now_utc=naive_utc(now))
