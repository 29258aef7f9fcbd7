"""Settings: built once from the environment, validated, frozen, passed down.

A bad value raises ConfigError with one line naming the variable; run.py prints
that line and exits before anything is started.
"""
import dataclasses
import datetime
import email.utils
import functools
import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import validate
from app.errors import ApiError


class ConfigError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    host: str
    port: int
    web_threads: int
    workers: int
    tz: ZoneInfo
    reminder_time: datetime.time
    monthly_report_time: datetime.time
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_security: str
    mail_from: str
    admin_email: str | None
    admin_password: str | None
    stats_cache_seconds: int
    export_retention_days: int
    base_url: str
    clinic_name: str
    clinic_address: str
    # How often the consumer polls the SQLite queue when idle (seconds).
    # Huey's default backs off to 10 s, which makes a patient wait for an
    # export; 0.1 s keeps click-to-done short at a negligible CPU cost.
    queue_poll_min: float
    queue_poll_max: float
    # Seconds a stopping consumer waits for running tasks before giving up.
    shutdown_timeout: float
    heartbeat_seconds: float
    backup_time: datetime.time
    backup_keep: int
    backup_dir: Path
    # The booking window of SPEC §8: a patient books at least this far
    # ahead and at most this far; a patient may change or cancel until
    # change_cutoff_hours before the start (0: any time before it).
    booking_notice_minutes: int = 60
    booking_horizon_days: int = 90
    change_cutoff_hours: int = 0
    # SPEC §10: 'required' makes staff enrol a second factor before anything else.
    staff_2fa: str = 'optional'
    # Where incident alerts go (SPEC §11); None: every active admin.
    alert_email: str | None = None
    # SPEC §10: a session ends after this long without a request, and this
    # long after login whatever happens.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # The one proxy whose X-Forwarded-For/-Proto Waitress believes (an
    # address, or '*'); None: forwarded headers are ignored (app.web.server).
    trusted_proxy: str | None = None
    # SPEC §11: the evening-before reminder (clinic time) and the one a fixed
    # number of hours before each visit; None turns either off.
    reminder_day_before: datetime.time | None = None
    reminder_hours_before: int | None = None
    clinic_phone: str = ''
    secret_key: str = dataclasses.field(repr=False, default='')

    @property
    def secure_cookies(self):
        return self.base_url.startswith('https://')

    @functools.cached_property
    def session_idle(self):
        return datetime.timedelta(minutes=self.session_idle_minutes)

    @functools.cached_property
    def session_max_age(self):
        return datetime.timedelta(hours=self.session_max_hours)

    @property
    def exports_dir(self):
        return self.data_dir / 'exports'

    def with_changes(self, **changes):
        return dataclasses.replace(self, **changes)


DECIMAL_RE = re.compile(r'[0-9]{1,9}(\.[0-9]{1,9})?')


def _int(env, name, default, low=None, high=None):
    raw = env.get(name)
    if raw in (None, ''):
        return default
    value = validate.whole_number(raw)
    if value is None:
        raise ConfigError(f'{name}: expected a whole number, got {raw!r}')
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f'{name}: {value} is out of range ({low}..{high})')
    return value


def _float(env, name, default, low=0.0):
    raw = env.get(name)
    if raw in (None, ''):
        return default
    # ASCII only, and no 'nan' or 'inf' (float() takes all of them).
    if not DECIMAL_RE.fullmatch(raw.strip()):
        raise ConfigError(f'{name}: expected a number, got {raw!r}')
    value = float(raw)
    if value < low:
        raise ConfigError(f'{name}: must be at least {low}')
    return value


def _clock_time(env, name, default):
    raw = env.get(name) or default
    match = re.fullmatch(r'([0-9]{1,2}):([0-9]{2})', raw.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f'{name}: expected HH:MM (00:00-23:59), got {raw!r}')
    return datetime.time(int(match[1]), int(match[2]))


def _optional_clock_time(env, name):
    return _clock_time(env, name, '') if (env.get(name) or '').strip() else None


def _mail_from(env):
    """MAIL_FROM: an address, optionally with a display name ('Clinic
    <no-reply@clinic.example>'), on one line. The address is ASCII: the
    clinic's own sender must reach servers without SMTPUTF8 too."""
    raw = env.get('MAIL_FROM') or 'ClinicDesk <no-reply@clinicdesk.local>'
    name, address = email.utils.parseaddr(raw)
    if '\n' in raw or '\r' in raw or not (address.isascii() and validate.is_addr_spec(address)):
        raise ConfigError(f'MAIL_FROM: expected an email address, got {raw!r}')
    return raw


def _zone(env, name, default):
    raw = env.get(name) or default
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'{name}: unknown time zone {raw!r}')


def _url(env, name, schemes):
    raw = env.get(name)
    if not raw:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        allowed = ', '.join(sorted(schemes))
        raise ConfigError(f'{name}: expected a URL with scheme {allowed}, got {parsed.scheme or raw!r}')
    return raw


DATABASE_SCHEMES = {'sqlite', 'postgres', 'postgresql', 'postgresext',
                    'postgresql+pool', 'postgres+pool', 'sqlite+pool'}


def _alert_email(env):
    """ALERT_EMAIL: one plain address (no display name, no list)."""
    try:
        return validate.email(env, 'ALERT_EMAIL', required=False)
    except ApiError as exc:
        raise ConfigError(f'{exc.message}, got {env.get("ALERT_EMAIL")!r}')


def _trusted_proxy(env):
    raw = (env.get('TRUSTED_PROXY') or '').strip()
    if not raw or raw == '*':
        return raw or None
    try:
        # Waitress compares the peer address as text: keep it as written.
        ipaddress.ip_address(raw)
    except ValueError:
        raise ConfigError(f"TRUSTED_PROXY: expected the proxy's IP address or *, got {raw!r}")
    return raw


def _secret_key(env, data_dir):
    """SECRET_KEY from the environment, else one generated once and kept."""
    if env.get('SECRET_KEY'):
        if len(env['SECRET_KEY']) < 16:
            raise ConfigError('SECRET_KEY: must be at least 16 characters')
        return env['SECRET_KEY']
    path = data_dir / 'secret_key'
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    import secrets  # here: it loads OpenSSL (4 MB), which the supervisor never needs
    key = secrets.token_urlsafe(48)
    # O_EXCL: when web and worker start together, the first writer wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, 'w') as fh:
        fh.write(key)
    return key


def load(env=None):
    """Build Settings from an environment mapping (os.environ by default)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get('CLINIC_DATA_DIR') or './data').resolve()
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (data_dir / 'exports').mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f'CLINIC_DATA_DIR: cannot create {str(data_dir)!r}: {exc.strerror}')

    database_url = (_url(env, 'DATABASE_URL', DATABASE_SCHEMES)
                    or f'sqlite:///{data_dir / "clinic.db"}')
    redis_url = _url(env, 'REDIS_URL', {'redis', 'rediss', 'unix'})
    host = env.get('HOST') or '127.0.0.1'
    port = _int(env, 'PORT', 8080, 1, 65535)

    security = (env.get('SMTP_SECURITY') or 'none').lower()
    if security not in ('none', 'starttls', 'ssl'):
        raise ConfigError(f'SMTP_SECURITY: expected none, starttls or ssl, got {security!r}')
    default_smtp_port = {'none': 25, 'starttls': 587, 'ssl': 465}[security]

    base_url = env.get('BASE_URL') or f'http://{host}:{port}'
    if urlparse(base_url).scheme not in ('http', 'https'):
        raise ConfigError(f'BASE_URL: expected an http(s) URL, got {base_url!r}')

    staff_2fa = (env.get('STAFF_2FA') or 'optional').lower()
    if staff_2fa not in ('optional', 'required'):
        raise ConfigError(f'STAFF_2FA: expected optional or required, got {staff_2fa!r}')

    mail_from = _mail_from(env)
    admin_email = env.get('ADMIN_EMAIL') or None
    if admin_email is not None and not validate.is_addr_spec(admin_email.strip().lower()):
        raise ConfigError(f'ADMIN_EMAIL: expected one address (user@host), got {admin_email!r}')

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        host=host,
        port=port,
        web_threads=_int(env, 'WEB_THREADS', 8, 1, 256),
        workers=_int(env, 'WORKERS', 2, 1, 64),
        tz=_zone(env, 'CLINIC_TZ', 'UTC'),
        reminder_time=_clock_time(env, 'REMINDER_TIME', '08:00'),
        monthly_report_time=_clock_time(env, 'MONTHLY_REPORT_TIME', '07:00'),
        smtp_host=env.get('SMTP_HOST') or None,
        smtp_port=_int(env, 'SMTP_PORT', default_smtp_port, 1, 65535),
        smtp_user=env.get('SMTP_USER') or None,
        smtp_password=env.get('SMTP_PASSWORD') or None,
        smtp_security=security,
        mail_from=mail_from,
        admin_email=admin_email,
        admin_password=env.get('ADMIN_PASSWORD') or None,
        stats_cache_seconds=_int(env, 'STATS_CACHE_SECONDS', 300, 0),
        export_retention_days=_int(env, 'EXPORT_RETENTION_DAYS', 7, 1),
        base_url=base_url.rstrip('/'),
        clinic_name=env.get('CLINIC_NAME') or 'ClinicDesk',
        clinic_address=env.get('CLINIC_ADDRESS') or '',
        queue_poll_min=_float(env, 'QUEUE_POLL_MIN', 0.01, 0.001),
        queue_poll_max=_float(env, 'QUEUE_POLL_MAX', 0.1, 0.01),
        shutdown_timeout=_float(env, 'SHUTDOWN_TIMEOUT', 25.0, 0.0),
        heartbeat_seconds=_float(env, 'HEARTBEAT_SECONDS', 5.0, 0.2),
        backup_time=_clock_time(env, 'BACKUP_TIME', '02:30'),
        backup_keep=_int(env, 'BACKUP_KEEP', 7, 1, 1000),
        backup_dir=Path(env.get('BACKUP_DIR') or data_dir / 'backups').resolve(),
        booking_notice_minutes=_int(env, 'BOOKING_MIN_NOTICE_MINUTES', 60, 0, 10080),
        booking_horizon_days=_int(env, 'BOOKING_HORIZON_DAYS', 90, 1, 730),
        change_cutoff_hours=_int(env, 'CHANGE_CUTOFF_HOURS', 0, 0, 720),
        staff_2fa=staff_2fa,
        alert_email=_alert_email(env),
        session_idle_minutes=_int(env, 'SESSION_IDLE_MINUTES', 30, 1, 1440),
        session_max_hours=_int(env, 'SESSION_MAX_HOURS', 12, 1, 720),
        trusted_proxy=_trusted_proxy(env),
        reminder_day_before=_optional_clock_time(env, 'REMINDER_DAY_BEFORE'),
        reminder_hours_before=_int(env, 'REMINDER_HOURS_BEFORE', None, 1, 168),
        clinic_phone=(env.get('CLINIC_PHONE') or '').strip(),
        secret_key=_secret_key(env, data_dir),
    )
