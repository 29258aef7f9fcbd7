"""Input checks shared by the JSON API and the HTML forms. Each raises
ApiError(400) with a message that names the field."""
import datetime
import re
import unicodedata

from app.errors import ApiError, bad_request

# A plain addr-spec (RFC 5321/6531): a dot-atom, one @, a host name. No
# display name, quotes, comments, brackets, ':' (a 'Bcc:x@y' prefix), ',' or
# ';' (a second address). Letters beyond ASCII are welcome (josé@…) and are
# sent with SMTPUTF8.
LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
                      r"(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+)*")
LABEL_RE = re.compile(r'[A-Za-z0-9\u0080-\U0010ffff]([A-Za-z0-9\-\u0080-\U0010ffff]{0,61}'
                      r'[A-Za-z0-9\u0080-\U0010ffff])?')
# ASCII digits only: Python's \d also matches '０' or '٣', which would pass
# the check and then break every later datetime parse of the stored value.
TIME_RE = re.compile(r'^([01][0-9]|2[0-3]):([0-5][0-9])$')
DATE_RE = re.compile(r'^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
MONTH_RE = re.compile(r'^([0-9]{4})-(0[1-9]|1[0-2])$')
PHONE_RE = re.compile(r'[0-9+\-(). ]+')
WHOLE_RE = re.compile(r'-?[0-9]{1,12}')
# Every date and month the app takes lies in these years. Far enough for any
# birth, visit or report period, and a day or a month either side of any of
# them can still be computed (a day after 9999-12-31 cannot).
FIRST_YEAR, LAST_YEAR = 1900, 2999
EARLIEST_BIRTH = datetime.date(FIRST_YEAR, 1, 1)


def _has_control_chars(value, allow_newlines):
    for ch in value:
        if allow_newlines and ch in '\n\r\t':
            continue
        if unicodedata.category(ch) in ('Cc', 'Cs', 'Co'):
            return True
    return False


def text(data, field, *, required=True, max_len=200, multiline=False):
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise bad_request(field, 'is required')
        return None
    if not isinstance(value, str):
        raise bad_request(field, 'must be a string')
    value = value.strip()
    if len(value) > max_len:
        raise bad_request(field, f'must be at most {max_len} characters')
    if _has_control_chars(value, multiline):
        raise bad_request(field, 'contains control characters')
    return value


def email(data, field='email', required=True):
    value = text(data, field, required=required, max_len=254)
    if value is None:
        return None
    value = value.lower()
    if not is_addr_spec(value):
        raise bad_request(field, 'is not a valid email address')
    return value


def is_addr_spec(value):
    """True for one plain address, user@host.tld, as a recipient or sender."""
    if not isinstance(value, str) or len(value) > 254 or value.count('@') != 1:
        return False
    local, domain = value.split('@')
    labels = domain.split('.')
    return (0 < len(local) <= 64 and LOCAL_RE.fullmatch(local) is not None
            and len(labels) >= 2 and not labels[-1].isdigit()
            and all(LABEL_RE.fullmatch(label) for label in labels)
            and all(_letter_like(ch) for ch in value if not ch.isascii()))


def _letter_like(ch):
    # Beyond ASCII only letters, marks and digits: no spaces, invisible
    # formatting or look-alike punctuation ('＠', '；').
    return unicodedata.category(ch)[0] in 'LMN'


def phone(data, field='phone'):
    value = text(data, field, required=False, max_len=40)
    if value is not None and not PHONE_RE.fullmatch(value):
        raise bad_request(field, 'may contain only digits, spaces and + - ( ) .')
    return value


def date_of_birth(data, today, field='date_of_birth'):
    """A birth date: a real day from 1900 up to `today` (clinic time)."""
    value = date(data, field, required=False)
    if value is not None and not EARLIEST_BIRTH <= value <= today:
        raise bad_request(field, f'must be between {EARLIEST_BIRTH.isoformat()} and today')
    return value


def password(data, field='password'):
    value = data.get(field)
    if value is None or value == '':
        raise bad_request(field, 'is required')
    if not isinstance(value, str):
        raise bad_request(field, 'must be a string')
    if len(value) < 8:
        raise bad_request(field, 'must be at least 8 characters')
    if len(value) > 256:
        raise bad_request(field, 'must be at most 256 characters')
    return value


def date_value(raw, field):
    if not isinstance(raw, str) or not DATE_RE.match(raw.strip()):
        raise bad_request(field, 'expected a date as YYYY-MM-DD')
    try:
        value = datetime.date.fromisoformat(raw.strip())
    except ValueError:
        raise bad_request(field, 'is not a real calendar date')
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise bad_request(field, f'must be between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31')
    return value


def date(data, field, required=True):
    raw = data.get(field)
    if raw in (None, ''):
        if required:
            raise bad_request(field, 'is required')
        return None
    return date_value(raw, field)


def time_value(raw, field):
    if not isinstance(raw, str) or not TIME_RE.match(raw.strip()):
        raise bad_request(field, 'expected a time as HH:MM (00:00-23:59)')
    return raw.strip()


def time(data, field, required=True):
    raw = data.get(field)
    if raw in (None, ''):
        if required:
            raise bad_request(field, 'is required')
        return None
    return time_value(raw, field)


def month(data, field, required=True):
    raw = data.get(field)
    if raw in (None, ''):
        if required:
            raise bad_request(field, 'is required')
        return None
    found = MONTH_RE.match(raw.strip()) if isinstance(raw, str) else None
    if found is None:
        raise bad_request(field, 'expected a month as YYYY-MM')
    if not FIRST_YEAR <= int(found[1]) <= LAST_YEAR:
        raise bad_request(field, f'must be between {FIRST_YEAR}-01 and {LAST_YEAR}-12')
    return raw.strip()


def integer(data, field, *, required=True, low=None, high=None):
    raw = data.get(field)
    if raw in (None, ''):
        if required:
            raise bad_request(field, 'is required')
        return None
    if isinstance(raw, bool):
        raise bad_request(field, 'must be a whole number')
    if isinstance(raw, str):
        raw = whole_number(raw)
    if not isinstance(raw, int):
        raise bad_request(field, 'must be a whole number')
    if low is not None and raw < low:
        raise bad_request(field, f'must be at least {low}')
    if high is not None and raw > high:
        raise bad_request(field, f'must be at most {high}')
    return raw


def whole_number(raw, max_digits=12):
    """`raw` as an int when it is ASCII digits (an optional minus, up to
    `max_digits`), else None. int() alone takes '٣', '１' and '1_0'."""
    raw = raw.strip()
    if len(raw) > max_digits + 1 or not WHOLE_RE.fullmatch(raw):
        return None
    return int(raw)


def identifier(data, field, required=True):
    return integer(data, field, required=required, low=1, high=2**31 - 1)


def boolean(data, field):
    raw = data.get(field)
    if isinstance(raw, bool):
        return raw
    if raw is None:
        raise bad_request(field, 'is required')
    raise bad_request(field, 'must be true or false')


def choice(data, field, options, required=True):
    raw = data.get(field)
    if raw in (None, ''):
        if required:
            raise bad_request(field, 'is required')
        return None
    if not isinstance(raw, str) or raw not in options:
        raise bad_request(field, 'must be one of ' + ', '.join(options))
    return raw


def each(checks):
    """{field: value} from {field: check()}, running every check, so a form
    can name all its wrong fields at once. One wrong field raises its own
    400; several raise the first one's, with all of them in its `fields`."""
    values, errors = {}, []
    for field, check in checks.items():
        try:
            values[field] = check()
        except ApiError as exc:
            if exc.status != 400 or exc.field is None:
                raise
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        first = errors[0]
        raise ApiError(400, first.message, field=first.field, fields={
            exc.field: exc.message.removeprefix(exc.field + ': ') for exc in errors})
    return values
