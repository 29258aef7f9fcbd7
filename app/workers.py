"""Who works on what: this process's identity, whether the owner of a claim
is still alive, and compare-and-set claims on ledger rows.

A claimable row (JobRun, Export, ReportExecution; see models.Claimable)
names its `owner` and counts its `attempts`. Every change of hands is an
UPDATE that matches the row as it was read, so of two claimers only one
wins, and a run taken for dead cannot write its result over the run that
replaced it. An owner on this host is alive while the OS has its pid; on
another host while its consumer's heartbeat is fresh.
"""
import datetime
import logging
import os
import secrets
import socket

from app import runtime
from app.models import WorkerHeartbeat, utcnow
from app.queue import huey

log = logging.getLogger('clinicdesk.workers')

# Work queued this long whose task is neither pending nor scheduled in Huey
# was taken by a worker that died before it could claim it.
QUEUE_GRACE = datetime.timedelta(minutes=2)
# A consumer beats every HEARTBEAT_SECONDS; it is dead after missing about
# three beats, never sooner than this (a busy database can delay a beat).
MIN_WINDOW = datetime.timedelta(seconds=15)

_tokens = {}  # pid -> token; a forked child draws its own


def token():
    """A random token of this process: a process that comes back with a
    dead one's pid (a restarted container) is told apart by it."""
    return _tokens.setdefault(os.getpid(), secrets.token_hex(4))


def heartbeat_name():
    """'host:pid', the name this process's heartbeats are written under."""
    return f'{socket.gethostname()}:{os.getpid()}'


def identity():
    """This process as an owner: 'host:pid:token'."""
    return f'{heartbeat_name()}:{token()}'


def window(settings=None):
    """A consumer whose last beat is older than this is taken for dead."""
    seconds = (settings or runtime.settings()).heartbeat_seconds * 3
    return max(MIN_WINDOW, datetime.timedelta(seconds=seconds))


def alive(owner, now=None):
    """Whether the process `owner` ('host:pid:token') may still be working.
    `now` is naive UTC."""
    if not owner:
        return False
    if owner == identity():
        return True
    host, pid, owner_token = (owner.split(':', 2) + [''])[:3]
    if host == socket.gethostname() and pid.isdigit():
        # Our own pid under another token is an earlier process.
        return int(pid) != os.getpid() and pid_alive(int(pid))
    beat = WorkerHeartbeat.get_or_none(WorkerHeartbeat.worker == f'{host}:{pid}')
    if beat is None or beat.beat_at <= (now or utcnow()) - window():
        return False
    return not owner_token or beat.token in (None, owner_token)


def pid_alive(pid):
    """Whether process `pid` on this host is running (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead
        with open(f'/proc/{pid}/stat') as fh:
            return fh.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return True


def beat(periodic, now=None):
    """Record that this consumer is alive (every HEARTBEAT_SECONDS)."""
    now = now or utcnow()
    name = heartbeat_name()
    updated = (WorkerHeartbeat.update(beat_at=now, periodic=periodic)
               .where(WorkerHeartbeat.worker == name,
                      WorkerHeartbeat.token == token())
               .execute())
    if not updated:
        # First beat, or our pid's row is left from an earlier process.
        (WorkerHeartbeat.insert(worker=name, token=token(), beat_at=now, started_at=now,
                                periodic=periodic)
         .on_conflict(conflict_target=[WorkerHeartbeat.worker],
                      preserve=[WorkerHeartbeat.token, WorkerHeartbeat.beat_at,
                                WorkerHeartbeat.started_at, WorkerHeartbeat.periodic])
         .execute())
    # Forget consumers that have been silent for a day.
    (WorkerHeartbeat.delete()
     .where(WorkerHeartbeat.beat_at < now - datetime.timedelta(days=1))
     .execute())


def waiting_task_ids():
    """Ids of the tasks pending or scheduled in Huey, or None when the
    queue cannot be read."""
    try:
        return {task.id for task in huey.pending()} | {task.id for task in huey.scheduled()}
    except Exception:
        log.warning('cannot read the queue to find lost work', exc_info=True)
        return None


class Queue:
    """The queue as one recovery pass sees it: read once, only if needed."""

    def __init__(self, read=waiting_task_ids):
        self.read = read
        self.ids = None
        self.done = False

    def lost(self, task_id, queued_at, now):
        """Queued longer than QUEUE_GRACE ago and no longer in the queue.
        Unknown (the queue cannot be read) counts as not lost."""
        if queued_at > now - QUEUE_GRACE:
            return False
        if not self.done:
            self.ids, self.done = self.read(), True
        return self.ids is not None and task_id not in self.ids


def abandoned(row, now, queue, queued_at=None):
    """Whether nobody works on the unfinished `row`: its owner is dead, or
    it has none and its task left the queue unclaimed."""
    if row.owner:
        return not alive(row.owner, now)
    return queue.lost(row.task_id, queued_at or row.created_at, now)


def ours(row):
    """Matches `row` while its owner and attempt are still those we read:
    the fence of every write a run makes after claiming."""
    model = type(row)
    return ((model.id == row.id)
            & (model.owner == row.owner)
            & (model.attempts == row.attempts))


def _swap(row, **changes):
    """Compare-and-set: apply `changes` if the row is still as read
    (owner, attempts, status)."""
    model = type(row)
    return (model.update(**changes)
            .where(ours(row), model.status == row.status)
            .execute()) == 1


def claim(row, **changes):
    """Take `row` for this process (owner = us, one more attempt) unless
    someone changed it since it was read. True when we have it; `row`
    then shows the new values."""
    me = identity()
    if not _swap(row, owner=me, attempts=type(row).attempts + 1, **changes):
        return False
    row.owner, row.attempts = me, row.attempts + 1
    for name, value in changes.items():
        setattr(row, name, value)
    return True


def release(row, **changes):
    """Take `row` from its (dead) owner so it can be queued again, unless
    someone changed it since it was read. A row nobody owned does not
    change hands here, so two sweeps may both queue it again; the claim
    then lets only one of the two runs work."""
    if not _swap(row, owner=None, **changes):
        return False
    row.owner = None
    for name, value in changes.items():
        setattr(row, name, value)
    return True
