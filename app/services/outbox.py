"""Opening a message of the outbox (app.mail) from the admin's pages, and
sending one again.

A sent email can carry patient data (a reminder, an export's CSV), so opening
one, or downloading its attachment, is recorded with the patient it is about,
and that patient sees it under "who accessed my record". Which patient comes
from the message's dedupe key (an export, an appointment, a reminder), else
from its recipient when that is a patient's address. Mail about many patients
(monthly reports, scheduled report files) is recorded without a subject.
"""
import re

from app import mail
from app.db import database
from app.errors import conflict, not_found
from app.models import Appointment, Export, OutboxAttachment, OutboxMessage, User
from app.services import audit

MANY_PATIENTS = ('monthly', 'report')


def _patient_of_key(kind, ident):
    if kind == 'export':
        return Export.select(Export.patient).where(Export.id == ident).scalar()
    if kind == 'reschedule':
        return Appointment.select(Appointment.patient).where(Appointment.id == ident).scalar()
    if kind == 'reminder':
        return (User.select(User.id).where(User.id == ident, User.role == 'patient')
                .scalar())
    return None


def subject_patient(message):
    """The id of the patient `message` is about, or None."""
    kind, _, rest = message.dedupe_key.partition(':')
    if kind in MANY_PATIENTS:
        return None
    ident = rest.split(':')[0]
    if re.fullmatch(r'[0-9]{1,18}', ident):
        found = _patient_of_key(kind, int(ident))
        if found is not None or kind == 'export':
            return found
    return (User.select(User.id).where(User.email == message.to, User.role == 'patient')
            .scalar())


# The single-use and signed links a message carries: a set-password link
# (/reset?token=...) and a reminder's confirm/cancel/reschedule (/r/...).
LIVE_LINK = re.compile(r'(/reset\?token=|/r/)[A-Za-z0-9._~%-]+')
HIDDEN = '(hidden: only the recipient can use this link)'


def without_live_links(body):
    """`body` with its live links cut off. An admin reading a sent message
    must not be able to take over the recipient's account with its reset
    link, or cancel their visit with its reminder link."""
    return LIVE_LINK.sub(lambda match: match.group(1) + HIDDEN, body) if body else body


def open_message(user, message_id, ip=None):
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if message is None:
        raise not_found('message not found')
    audit.record('outbox_message.view', user, subject_patient(message),
                 f'outbox_message:{message.id}', ip)
    return message


def open_attachment(user, message_id, attachment_id, ip=None, head=False):
    """The attachment of that message. A HEAD request (head=True) reads no
    data and records nothing."""
    item = OutboxAttachment.get_or_none((OutboxAttachment.id == attachment_id)
                                        & (OutboxAttachment.message == message_id))
    if item is None:
        raise not_found('attachment not found')
    if not head:
        audit.record('outbox_attachment.download', user, subject_patient(item.message),
                     f'outbox_attachment:{item.id}', ip)
    return item


def resend(user, message_id, ip=None):
    """Queue an uncertain or failed message again, the same row so the same
    Message-ID; audited. 404 unknown, 409 any other status. The caller
    queues delivery."""
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if message is None:
        raise not_found('message not found')
    with database.atomic():
        if not mail.requeue(message.id):
            raise conflict('only an uncertain or failed message can be sent again; this one is '
                           + mail.public_status(message.status))
        audit.record('outbox_message.resend', user, subject_patient(message),
                     f'outbox_message:{message.id}', ip)
    return OutboxMessage.get_by_id(message.id)
