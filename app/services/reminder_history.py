"""What became of an appointment's reminders (SPEC §11): the answer to
"why wasn't this patient reminded?" for the patient, the desk and admins.

A queued reminder's row points at its message; the message's delivery
decides sent, pending or failed (with the SMTP server's reason), so the row
is written once and never chased."""
import peewee

from app.clock import utc_iso
from app.models import OutboxMessage, Reminder

KIND_ORDER = {'day_before': 0, 'same_day': 1, 'hours_before': 2}


def _item(row):
    status, reason, at = row.status, row.reason, row.at
    message = row.message if row.message_id else None
    if status == 'pending' and message is not None:
        if message.status == 'sent':
            status, at = 'sent', message.sent_at or at
        elif message.status == 'failed':
            status, reason, at = 'failed', message.error, message.sent_at or at
        elif message.error:
            reason = message.error  # e.g. uncertain: cut off mid-send, may have arrived
    return {'kind': row.kind, 'status': status, 'reason': reason, 'at': utc_iso(at)}


def of_appointments(ids):
    """{appointment id: [item]} for `ids`, kinds in the order they are sent. One query."""
    rows = (Reminder.select(Reminder, OutboxMessage.id, OutboxMessage.status,
                            OutboxMessage.error, OutboxMessage.sent_at)
            .join(OutboxMessage, peewee.JOIN.LEFT_OUTER,
                  on=(Reminder.message == OutboxMessage.id), attr='message')
            .where(Reminder.appointment.in_(list(ids))))
    found = {}
    for row in rows:
        found.setdefault(row.appointment_id, []).append(_item(row))
    for items in found.values():
        items.sort(key=lambda item: KIND_ORDER.get(item['kind'], 9))
    return found


def of_appointment(appointment_id):
    return of_appointments([appointment_id]).get(appointment_id, [])
