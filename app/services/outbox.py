"""Opening a message of the outbox (app.mail) from the admin's pages.

A sent email can carry patient data (a monthly report's HTML part, an
export's CSV) and its recipient is not necessarily the patient it is about,
so opening one, or downloading its attachment, is recorded without a subject.
"""
from app.errors import not_found
from app.models import OutboxAttachment, OutboxMessage
from app.services import audit


def open_message(user, message_id, ip=None):
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if message is None:
        raise not_found('message not found')
    audit.record('outbox_message.view', user, None, f'outbox_message:{message.id}', ip)
    return message


def open_attachment(user, message_id, attachment_id, ip=None, head=False):
    """The attachment of that message. A HEAD request (head=True) reads no
    data and records nothing."""
    item = OutboxAttachment.get_or_none((OutboxAttachment.id == attachment_id)
                                        & (OutboxAttachment.message == message_id))
    if item is None:
        raise not_found('attachment not found')
    if not head:
        audit.record('outbox_attachment.download', user, None,
                     f'outbox_attachment:{item.id}', ip)
    return item
