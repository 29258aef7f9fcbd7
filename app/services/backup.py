"""Backups: one timestamped archive holding a consistent database snapshot
(SQLite online backup API, or pg_dump), the export files and the secret key,
with a manifest of checksums and a `.sha256` file beside it; and restore.

The job queue is not in the archive: pending mail lives in the outbox table,
and exports that were in flight are found and run again after a restore.
"""
import dataclasses
import datetime
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from pathlib import Path
from urllib.parse import urlparse

from app.db import plain_sqlite_file
from app.errors import ApiError

PREFIX = 'clinicdesk-backup-'
SUFFIX = '.tar.gz'
FORMAT = 1
SQLITE_NAME = 'clinic.db'
PG_NAME = 'clinic.pgdump'


class BackupError(ApiError):
    def __init__(self, message):
        super().__init__(400, message)


@dataclasses.dataclass
class Backup:
    path: Path
    size: int
    sha256: str
    files: int
    seconds: float

    def summary(self):
        return {'archive': self.path.name, 'size': self.size, 'sha256': self.sha256,
                'files': self.files, 'seconds': round(self.seconds, 2)}


def sqlite_path(database_url):
    """The file of a sqlite:/// URL, or None for other databases."""
    if not urlparse(database_url).scheme.startswith('sqlite'):
        return None
    path = plain_sqlite_file(database_url)
    if path is None:
        from playhouse import db_url  # every backend's module: only for URLs with options

        path = db_url.parse(database_url)['database']
    return Path(path).resolve()


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _snapshot_sqlite(source, target):
    """A consistent copy while writers keep going: in WAL mode the backup
    reads one snapshot and does not block them."""
    src = sqlite3.connect(f'{Path(source).as_uri()}?mode=ro', uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _dump_postgres(database_url, target):
    if shutil.which('pg_dump') is None:
        raise BackupError('pg_dump is not installed; install the PostgreSQL client to back up '
                          'a PostgreSQL database')
    subprocess.run(['pg_dump', '--format=custom', '--no-owner', '--file', str(target),
                    database_url], check=True, capture_output=True, timeout=3600)


def _export_files(exports_dir):
    if not exports_dir.is_dir():
        return []
    return sorted(p for p in exports_dir.iterdir()
                  if p.is_file() and not p.name.startswith('.') and not p.name.endswith('.tmp'))


def create_backup(settings, dest_dir=None, now=None):
    """Write an archive into `dest_dir` (default BACKUP_DIR); returns Backup."""
    started = datetime.datetime.now(datetime.timezone.utc)
    now = now or started
    dest = Path(dest_dir or settings.backup_dir)
    dest.mkdir(parents=True, exist_ok=True)
    stamp = f'{PREFIX}{now.astimezone(datetime.timezone.utc):%Y%m%dT%H%M%SZ}'
    name, n = stamp + SUFFIX, 1
    while (dest / name).exists():
        n += 1
        name = f'{stamp}_{n:02d}{SUFFIX}'
    with tempfile.TemporaryDirectory(dir=dest, prefix='.backup-') as work:
        work = Path(work)
        members = {}
        db_file = sqlite_path(settings.database_url)
        if db_file is not None:
            _snapshot_sqlite(db_file, work / SQLITE_NAME)
            members[SQLITE_NAME] = work / SQLITE_NAME
            database = 'sqlite'
        else:
            _dump_postgres(settings.database_url, work / PG_NAME)
            members[PG_NAME] = work / PG_NAME
            database = 'postgresql'
        secret = settings.data_dir / 'secret_key'
        if secret.is_file():
            members['secret_key'] = secret
        for path in _export_files(settings.exports_dir):
            members[f'exports/{path.name}'] = path
        manifest = {
            'format': FORMAT,
            'created_at': now.isoformat(timespec='seconds'),
            'database': database,
            'files': {arcname: {'sha256': _sha256_file(path), 'size': path.stat().st_size}
                      for arcname, path in members.items()},
        }
        partial = work / name
        with tarfile.open(partial, 'w:gz', compresslevel=6) as tar:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo('manifest.json')
            info.size, info.mtime = len(data), int(now.timestamp())
            tar.addfile(info, io.BytesIO(data))
            for arcname, path in members.items():
                tar.add(path, arcname=arcname, recursive=False)
        checksum = _sha256_file(partial)
        (work / (name + '.sha256')).write_text(f'{checksum}  {name}\n')
        os.replace(work / (name + '.sha256'), dest / (name + '.sha256'))
        os.replace(partial, dest / name)
    elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    return Backup(dest / name, (dest / name).stat().st_size, checksum, len(members), elapsed)


def prune(dest_dir, keep):
    """Keep the newest `keep` archives; returns the names removed."""
    archives = sorted(Path(dest_dir).glob(f'{PREFIX}*{SUFFIX}'))
    removed = []
    for old in archives[:-keep] if keep else archives:
        old.unlink(missing_ok=True)
        Path(str(old) + '.sha256').unlink(missing_ok=True)
        removed.append(old.name)
    return removed


def list_backups(dest_dir):
    return [{'archive': p.name, 'size': p.stat().st_size}
            for p in sorted(Path(dest_dir).glob(f'{PREFIX}*{SUFFIX}'), reverse=True)]


def _size_words(size):
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if size < 1024 or unit == 'GB':
            return f'{size:.0f} {unit}' if unit == 'bytes' else f'{size:.1f} {unit}'
        size /= 1024


def run_nightly(settings):
    """The periodic backup: one archive into BACKUP_DIR, then keep the
    newest BACKUP_KEEP. Errors propagate so the run is recorded as failed."""
    made = create_backup(settings)
    removed = prune(settings.backup_dir, settings.backup_keep)
    return {**made.summary(), 'pruned': len(removed),
            'summary': f'{made.path.name}, {_size_words(made.size)}'}


def _verify_sidecar(archive):
    sidecar = Path(str(archive) + '.sha256')
    if not sidecar.is_file():
        return False
    expected = sidecar.read_text().split()[0] if sidecar.read_text().strip() else ''
    if _sha256_file(archive) != expected:
        raise BackupError(f'{archive.name}: checksum mismatch, the archive is corrupted')
    return True


def _safe_member(name):
    if name in ('manifest.json', SQLITE_NAME, PG_NAME, 'secret_key'):
        return True
    parts = name.split('/')
    return (len(parts) == 2 and parts[0] == 'exports' and parts[1]
            and parts[1] not in ('.', '..') and '\\' not in parts[1])


def _read_archive(archive, into):
    """Extract after checking every member; returns the manifest."""
    try:
        with tarfile.open(archive, 'r:gz') as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            if 'manifest.json' not in names:
                raise BackupError(f'{archive.name}: not a ClinicDesk backup (no manifest)')
            for member in members:
                if not member.isfile() or not _safe_member(member.name):
                    raise BackupError(f'{archive.name}: unexpected entry {member.name!r}')
            tar.extractall(into, filter='data')
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BackupError(f'{archive.name}: cannot be read ({exc}); the archive is corrupted')
    manifest = json.loads((Path(into) / 'manifest.json').read_text())
    if manifest.get('format') != FORMAT:
        raise BackupError(f'{archive.name}: unknown backup format {manifest.get("format")!r}')
    for arcname, meta in manifest['files'].items():
        path = Path(into) / arcname
        if not path.is_file() or _sha256_file(path) != meta['sha256']:
            raise BackupError(f'{archive.name}: {arcname} does not match its checksum; '
                              'the archive is corrupted')
    return manifest


def data_dir_is_empty(data_dir):
    """Nothing worth keeping: no database, no export files, no backups.
    (A fresh start creates an empty exports/ folder, a secret key and the
    supervisor's lock file.)"""
    data_dir = Path(data_dir)
    if not data_dir.exists():
        return True
    for path in data_dir.rglob('*'):
        if path.is_file() and path.name not in ('secret_key', 'supervisor.lock'):
            return False
    return True


def restore(archive, settings, force=False):
    """Restore `archive` into the configured data dir and database."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f'{archive}: no such file')
    _verify_sidecar(archive)
    data_dir = settings.data_dir
    if not force and not data_dir_is_empty(data_dir):
        raise BackupError(f'{data_dir} is not empty; restore into an empty data directory, '
                          'or pass --force to overwrite it')
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix='.restore-') as work:
        manifest = _read_archive(archive, work)
        work = Path(work)
        db_file = sqlite_path(settings.database_url)
        if manifest['database'] == 'sqlite':
            if db_file is None:
                raise BackupError('the backup holds a SQLite database but DATABASE_URL is not '
                                  'SQLite; restore with the SQLite default configuration')
            for leftover in (db_file, Path(f'{db_file}-wal'), Path(f'{db_file}-shm')):
                leftover.unlink(missing_ok=True)
            db_file.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work / SQLITE_NAME, db_file)
        else:
            if db_file is not None:
                raise BackupError('the backup holds a PostgreSQL dump; set DATABASE_URL to the '
                                  'PostgreSQL database to restore into')
            subprocess.run(['pg_restore', '--clean', '--if-exists', '--no-owner',
                            '--dbname', settings.database_url, str(work / PG_NAME)],
                           check=True, capture_output=True, timeout=3600)
        if (work / 'secret_key').is_file():
            os.replace(work / 'secret_key', data_dir / 'secret_key')
        exports = settings.exports_dir
        exports.mkdir(parents=True, exist_ok=True)
        if (work / 'exports').is_dir():
            for path in (work / 'exports').iterdir():
                os.replace(path, exports / path.name)
    return {'archive': archive.name, 'database': manifest['database'],
            'files': len(manifest['files']), 'created_at': manifest['created_at']}
