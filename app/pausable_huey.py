"""Huey, plus periodic tasks an admin can pause.

The pause is a flag in the queue's own storage, read by the scheduler of
every consumer, so it holds across restarts and needs no database read.
Huey's revoke_all() is not used for this: its scheduler would still enqueue
the revoked task every minute only for a worker to drop it, and the worker
would also drop the run an admin starts by hand ("Run now" works on a
paused job).
"""
import logging

from huey import Huey

log = logging.getLogger('clinicdesk.queue')


class PausableHuey(Huey):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.periodic_classes = {}  # {name: task class}, in the order declared

    def periodic_task(self, validate_datetime, **kwargs):
        declare = super().periodic_task(validate_datetime, **kwargs)

        def decorator(func):
            wrapper = declare(func)
            self.periodic_classes[wrapper.task_class.__name__] = wrapper.task_class
            return wrapper
        return decorator

    def pause_periodic(self, task_class):
        self.put(_pause_key(task_class), True)

    def resume_periodic(self, task_class):
        self.delete(_pause_key(task_class))

    def paused_classes(self, task_classes):
        """The subset of `task_classes` that is paused (one storage read)."""
        keys = {_pause_key(cls): cls for cls in task_classes}
        found = self.storage.peek_many(list(keys)) if keys else {}
        return {keys[key] for key in found}

    def read_periodic(self, timestamp):
        due = super().read_periodic(timestamp)
        try:
            paused = self.paused_classes({type(task) for task in due})
        except Exception as exc:
            # A missed pause is better than a missed job.
            log.warning('could not read paused jobs (%s); running what is due', exc)
            return due
        return [task for task in due if type(task) not in paused]


def _pause_key(task_class):
    return f'paused:{task_class.__module__}.{task_class.__name__}'
