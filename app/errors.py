"""The one way to fail: services and views raise ApiError; the web layer turns
it into `{"error": ...}` for /api and into a page or a form message for HTML."""


class ApiError(Exception):
    """`extra`: more fields for the JSON answer, e.g. {"two_factor": true};
    `headers`: headers of the answer, e.g. Retry-After on a 429; `fields`:
    {field: message} of every wrong field a form marks (validate.each),
    while the JSON answer keeps SPEC's one message."""

    def __init__(self, status, message, field=None, extra=None, headers=None, fields=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra or {}
        self.headers = headers or {}
        self.fields = fields


def bad_request(field, message):
    return ApiError(400, f'{field}: {message}', field=field)


def not_found(what='not found'):
    return ApiError(404, what)


def conflict(message, field=None):
    return ApiError(409, message, field=field)


class QueueUnavailable(ApiError):
    def __init__(self):
        super().__init__(503, 'the job queue is unavailable right now; please try again in a minute')
