"""Huey tasks. Each is a few lines that call a service; the Huey instance and
its storage come from app.queue, configured at start by app.boot."""
from app.queue import huey  # noqa: F401


# ---- history export (SPEC §5) -------------------------------------------------

from app import runtime  # noqa: E402
from app.db import database  # noqa: E402
from app.queue import PRIORITY_INTERACTIVE  # noqa: E402
from app.services import exports  # noqa: E402


@huey.task(context=True, retries=2, retry_delay=5, priority=PRIORITY_INTERACTIVE)
def export_history(export_id, task=None):
    """One history export; its progress and result are what the page polls."""
    with database.connection_context():
        return exports.run_export(runtime.settings(), runtime.clock(), export_id,
                                  retries_left=task.retries)


@huey.on_startup()
def recover_exports_on_start():
    # Huey does not re-deliver a task whose worker was killed: run such
    # exports again at once, under the same task id. Housekeeping repeats
    # this every minute for workers that died on other hosts.
    with database.connection_context():
        exports.recover_interrupted(runtime.settings())
