"""Batch jobs that go on past a bad record. Each record is worked on its
own; one that fails is skipped and named by its id and the error's type and
place, never by the error's text, which may quote a patient's data. The job
returns the skipped records under 'failed', and the slot ledger shows such
a run as partly failed."""
import logging
import traceback
from pathlib import Path

log = logging.getLogger('clinicdesk.batch')


def reason(exc):
    """'TypeError in monthly_report.html:12': what failed and where, no data."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f' in {Path(frames[-1].filename).name}:{frames[-1].lineno}' if frames else ''
    return f'{type(exc).__name__}{where}'


def each(records, work, what, key=lambda record: record.id):
    """work(record) for every record; [{'id', 'error'}] of those skipped."""
    failed = []
    for record in records:
        try:
            work(record)
        except Exception as exc:
            failed.append(skipped(what, key(record), exc))
    return failed


def skipped(what, record_id, exc):
    """Log record `record_id` of kind `what` as skipped; its entry in 'failed'."""
    why = reason(exc)
    log.error('%s %s skipped: %s', what, record_id, why)
    return {'id': f'{what} {record_id}', 'error': why}


def summary(failed, limit=5):
    """One line for the ledger: how many were skipped, the first few and why."""
    shown = '; '.join(f"{item['id']}: {item['error']}" for item in failed[:limit])
    more = f'; and {len(failed) - limit} more' if len(failed) > limit else ''
    return f'{len(failed)} skipped: {shown}{more}'
