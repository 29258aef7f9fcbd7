"""What an admin can do to background work: pause and resume a periodic
job, retry a task that failed for good. Plus the consumer-side half: each
final failure is recorded with what it takes to run it again.

A pause is a flag in the queue storage, which the scheduler of every
consumer reads (app.pausable_huey), and a PeriodicJobState row: the record
of who paused the job and when, shown on the status page and copied back
to the queue whenever a consumer starts.
"""
import datetime
import logging
import traceback

from huey import signals
from huey.constants import EmptyData

from app import consumer_log
from app.clock import naive_utc
from app.db import database
from app.errors import conflict, not_found
from app.models import PeriodicJobState, TaskFailure, utcnow

log = logging.getLogger('clinicdesk.tasks')

# Failures older than this leave the status page with the rest of the history.
KEEP_FAILURES = datetime.timedelta(days=14)
TRACEBACK_LIMIT = 20000


def short_name(task_str):
    """'tasks.daily_reminders' -> 'daily_reminders'."""
    return task_str.rsplit('.', 1)[-1]


def paused_names():
    return {name for (name,) in (PeriodicJobState
                                 .select(PeriodicJobState.name)
                                 .where(PeriodicJobState.paused == True)  # noqa: E712
                                 .tuples())}


def set_paused(huey, name, paused, by=None):
    task_class = huey.periodic_classes.get(name)
    if task_class is None:
        raise not_found('periodic job not found; jobs are '
                        + ', '.join(sorted(huey.periodic_classes)))
    # The flag first: with the queue down the pause fails as a whole,
    # rather than being recorded and not obeyed.
    if paused:
        huey.pause_periodic(task_class)
    else:
        huey.resume_periodic(task_class)
    (PeriodicJobState
     .insert(name=name, paused=paused, changed_at=utcnow(), changed_by=by)
     .on_conflict(conflict_target=[PeriodicJobState.name],
                  update={PeriodicJobState.paused: paused,
                          PeriodicJobState.changed_at: utcnow(),
                          PeriodicJobState.changed_by: by})
     .execute())


def apply_recorded_pauses(huey):
    """Make the queue's pause flags match the record (a Redis that lost its
    data, a flag written just before a failed database write)."""
    paused = paused_names()
    for name, task_class in huey.periodic_classes.items():
        if name in paused:
            huey.pause_periodic(task_class)
        else:
            huey.resume_periodic(task_class)


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


def prune_failures(settings, now):
    cutoff = naive_utc(now) - KEEP_FAILURES
    return TaskFailure.delete().where(TaskFailure.failed_at < cutoff).execute()


def install_consumer_hooks(huey):
    """Called once by the consumer: recorded pauses are in force, final
    failures are recorded, a queue outage does not flood the log."""
    consumer_log.quiet_queue_outages()
    try:
        with database.connection_context():
            apply_recorded_pauses(huey)
    except Exception as exc:
        log.warning('could not apply the recorded pauses of periodic jobs: %s', exc)
    huey.signal(signals.SIGNAL_ERROR)(
        lambda signal, task, exc=None: record_failure(huey, signal, task, exc))
