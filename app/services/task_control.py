"""What an admin can do to background work: pause and resume a periodic
job, retry a task that failed for good. Plus the consumer-side half: the
scheduler skips paused jobs, and each final failure is recorded with what it
takes to run it again.

Pausing lives in the database because the scheduler that must obey it runs
in the consumer process, not in the web process that handled the click.
"""
import datetime
import logging
import traceback

from huey import signals
from huey.constants import EmptyData

from app import consumer_log
from app.db import database
from app.errors import conflict, not_found
from app.models import PeriodicJobState, TaskFailure, utcnow
from app.services import housekeeping

log = logging.getLogger('clinicdesk.tasks')

# Failures older than this leave the status page with the rest of the history.
KEEP_FAILURES = datetime.timedelta(days=14)
TRACEBACK_LIMIT = 20000


def short_name(task_str):
    """'tasks.daily_reminders' -> 'daily_reminders'."""
    return task_str.rsplit('.', 1)[-1]


def periodic_classes(huey):
    """{name: task class} of every @huey.periodic_task, in registry order."""
    return {cls.__name__: cls for cls in huey._registry._periodic_tasks}


# ---- pause / resume -------------------------------------------------------------

def paused_names():
    return {name for (name,) in (PeriodicJobState
                                 .select(PeriodicJobState.name)
                                 .where(PeriodicJobState.paused == True)  # noqa: E712
                                 .tuples())}


def set_paused(huey, name, paused, by=None):
    if name not in periodic_classes(huey):
        raise not_found('periodic job not found; jobs are '
                        + ', '.join(sorted(periodic_classes(huey))))
    (PeriodicJobState
     .insert(name=name, paused=paused, changed_at=utcnow(), changed_by=by)
     .on_conflict(conflict_target=[PeriodicJobState.name],
                  update={PeriodicJobState.paused: paused,
                          PeriodicJobState.changed_at: utcnow(),
                          PeriodicJobState.changed_by: by})
     .execute())


def periodic_due(huey, read_periodic, timestamp):
    """Huey's list of periodic tasks due at `timestamp`, minus paused ones.
    If the pause table cannot be read, nothing is held back: a missed pause
    is better than a missed job."""
    due = read_periodic(timestamp)
    if not due:
        return due
    try:
        with database.connection_context():
            paused = paused_names()
    except Exception as exc:
        log.warning('could not read paused jobs (%s); running what is due', exc)
        return due
    for task in due:
        if task.name in paused:
            log.debug('periodic job %s is paused; not enqueued', task.name)
    return [task for task in due if task.name not in paused]


# ---- failures and retry ---------------------------------------------------------

def record_failure(huey, signal, task, exc=None):
    """Huey's SIGNAL_ERROR handler: keep a final failure (no retries left)
    with its arguments and traceback."""
    if task.retries:
        return  # Huey will run it again; the event log shows this attempt
    kwargs = {k: v for k, v in (task.kwargs or {}).items() if v is not task}  # context tasks
    try:
        arguments = huey.serializer.serialize((tuple(task.args or ()), kwargs))
    except Exception:  # arguments that cannot be pickled cannot be retried
        arguments = None
    tb = ''
    if exc is not None:
        tb = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    fields = {'task': huey._registry.task_to_string(type(task)), 'arguments': arguments,
              'error': f'{type(exc).__name__}: {exc}'[:2000] if exc else 'failed',
              'traceback': tb[-TRACEBACK_LIMIT:], 'failed_at': utcnow(), 'retried_at': None}
    try:
        with database.connection_context():
            (TaskFailure
             .insert(task_id=str(task.id), **fields)
             .on_conflict(conflict_target=[TaskFailure.task_id],
                          update={getattr(TaskFailure, k): v for k, v in fields.items()})
             .execute())
    except Exception:
        log.exception('could not record the failure of task %s', task.id)


def retry(huey, task_id):
    """Run a failed task again with the same arguments under the same id,
    so a status link that showed "failed" follows the new run."""
    failure = TaskFailure.get_or_none(TaskFailure.task_id == task_id)
    if failure is None:
        raise not_found('no failed task with this id')
    if failure.retried_at is not None:
        raise conflict('this task was already retried; its new run is in the recent runs')
    try:
        task_class = huey._registry.string_to_task(failure.task)
    except Exception:
        raise conflict(f'task {short_name(failure.task)} no longer exists; it cannot be retried')
    if failure.arguments is None:
        raise conflict('this task\'s arguments could not be kept; it cannot be retried')
    args, kwargs = huey.serializer.deserialize(bytes(failure.arguments))
    task = task_class(args=args, kwargs=kwargs, id=failure.task_id)
    _enqueue_replacing_result(huey, task)
    (TaskFailure
     .update(retried_at=utcnow())
     .where(TaskFailure.id == failure.id)
     .execute())
    return task


def _enqueue_replacing_result(huey, task):
    # The stored error would answer /api/tasks/<id> as "failed" while the
    # retry runs; drop it first, and put it back if the enqueue fails.
    stored = huey.storage.peek_data(task.id)
    huey.storage.delete_data(task.id)
    try:
        huey.enqueue(task)
    except Exception:
        if stored is not EmptyData:
            try:
                huey.storage.put_data(task.id, stored, is_result=True)
            except Exception:
                pass
        raise


def failures(limit=20):
    return list(TaskFailure
                .select()
                .order_by(TaskFailure.failed_at.desc(), TaskFailure.id.desc())
                .limit(limit))


@housekeeping.cleanup
def prune_failures(settings, now):
    cutoff = now.astimezone(datetime.timezone.utc).replace(tzinfo=None) - KEEP_FAILURES
    return TaskFailure.delete().where(TaskFailure.failed_at < cutoff).execute()


# ---- consumer hooks -------------------------------------------------------------

def install_consumer_hooks(huey):
    """Called once by the consumer: paused jobs are not enqueued, final
    failures are recorded, a queue outage does not flood the log."""
    consumer_log.quiet_queue_outages()
    original = huey.read_periodic
    huey.read_periodic = lambda timestamp: periodic_due(huey, original, timestamp)
    huey.signal(signals.SIGNAL_ERROR)(
        lambda signal, task, exc=None: record_failure(huey, signal, task, exc))
