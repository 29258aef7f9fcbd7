"""The outbox for admins: every email the clinic sent or will send, as JSON
and as /admin/outbox with one message, its headers and attachments; an
uncertain or failed message can be sent again."""
import re
from urllib.parse import urlencode

import bottle
import peewee

import tasks
from app import mail, validate
from app.errors import ApiError
from app.models import OutboxAttachment, OutboxMessage
from app.services import outbox
from app.web.base import client_ip, clock, current_user, json_response, page_of, paging, \
    query_params, settings
from app.web.forms import redirect_with
from app.web.templating import render

OUTBOX_PAGE = 50
STATUSES = ('pending', 'sent', 'failed', mail.UNCERTAIN)


def outbox_json(message):
    at = clock().iso
    return {'id': message.id, 'to': message.to, 'subject': message.subject,
            'status': mail.public_status(message.status), 'attempts': message.attempts,
            'created_at': at(message.created_at), 'sent_at': at(message.sent_at),
            'error': message.error}


def _outbox_query(params):
    query = (OutboxMessage
             .select(OutboxMessage.id, OutboxMessage.to, OutboxMessage.subject,
                     OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.created_at,
                     OutboxMessage.sent_at, OutboxMessage.error)
             .order_by(OutboxMessage.id.desc()))
    status = validate.choice(params, 'status', STATUSES, required=False)
    if status == 'pending':
        query = query.where(OutboxMessage.status.in_(('pending',) + mail.IN_FLIGHT))
    elif status:
        query = query.where(OutboxMessage.status == status)
    return query, status


def list_outbox():
    params = query_params()
    limit, offset = paging(params)
    query, _ = _outbox_query(params)
    items = [outbox_json(m) for m in query.limit(limit).offset(offset)]
    return page_of(items, query.count(), limit, offset)


def outbox_page():
    params = query_params()
    _, offset = paging(params)
    query, status = _outbox_query(params)
    messages = [outbox_json(m) for m in query.limit(OUTBOX_PAGE).offset(offset)]
    return render('outbox.html', messages=messages, status=status, counts=mail.counts(),
                  pager=_pager(query.count(), offset, len(messages), status),
                  smtp_host=settings().smtp_host, message=None)


def _pager(total, offset, shown, status):
    def link(at):
        query = {'offset': at, **({'status': status} if status else {})}
        return '/admin/outbox?' + urlencode(query)
    return {'total': total, 'first': offset + 1, 'last': offset + shown,
            'prev': link(max(0, offset - OUTBOX_PAGE)) if offset else None,
            'next': link(offset + OUTBOX_PAGE) if offset + shown < total else None}


def outbox_message_page(message_id):
    message = outbox.open_message(current_user(), message_id, client_ip())
    files = list(OutboxAttachment
                 .select(OutboxAttachment.id, OutboxAttachment.filename,
                         OutboxAttachment.content_type,
                         peewee.fn.LENGTH(OutboxAttachment.content).alias('size'))
                 .where(OutboxAttachment.message == message.id)
                 .order_by(OutboxAttachment.id))
    # Without SMTP the outbox is where mail arrives (a trial install), and
    # there an admin passes a set-password link on by hand.
    hide = bool(settings().smtp_host)
    shown = outbox.without_live_links if hide else (lambda body: body)
    return render('outbox.html', message=message, summary=outbox_json(message),
                  headers=message.headers or {}, attachments=files,
                  text_body=shown(message.text_body), html_body=shown(message.html_body),
                  links_hidden=hide, smtp_host=settings().smtp_host,
                  resendable=message.status in mail.RESENDABLE)


def resend_message(message_id):
    message = outbox.resend(current_user(), message_id, client_ip())
    tasks.queue_delivery()
    return json_response(outbox_json(message), status=202)


def resend_submit(message_id):
    try:
        outbox.resend(current_user(), message_id, client_ip())
    except ApiError as exc:
        if exc.status != 409:
            raise
        redirect_with(f'/admin/outbox/{message_id}', exc.message[:1].upper() + exc.message[1:] + '.')
    tasks.queue_delivery()
    redirect_with(f'/admin/outbox/{message_id}',
                  'Queued to send again, with the same Message-ID so a mail program that got '
                  'it already can tell.')


def outbox_attachment(message_id, attachment_id):
    item = outbox.open_attachment(current_user(), message_id, attachment_id, client_ip(),
                                  head=bottle.request.method == 'HEAD')
    response = bottle.HTTPResponse(body=bytes(item.content))
    response.content_type = item.content_type
    name = re.sub(r'[^A-Za-z0-9._-]', '_', item.filename) or 'attachment'
    response.set_header('Content-Disposition', f'attachment; filename="{name}"')
    response.set_header('Cache-Control', 'no-store')
    return response


ADMIN = ('admin',)

ROUTES = [
    ('GET', '/api/outbox', list_outbox, ADMIN, {}),
    ('GET', '/admin/outbox', outbox_page, ADMIN, {}),
    ('GET', '/admin/outbox/<message_id:int>', outbox_message_page, ADMIN, {}),
    ('POST', '/api/outbox/<message_id:int>/resend', resend_message, ADMIN, {}),
    ('POST', '/admin/outbox/<message_id:int>/resend', resend_submit, ADMIN, {}),
    ('GET', '/admin/outbox/<message_id:int>/attachments/<attachment_id:int>',
     outbox_attachment, ADMIN, {}),
]
