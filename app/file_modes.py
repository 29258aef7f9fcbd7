"""Files at rest readable by the app's user only (SPEC §10): under the data
dir (and the backup dir) files are 0600 and directories 0700.

The umask does it for everything the app and its children create (SQLite
and its WAL, the queue, exports, reports, backups, redis-server's files);
`tighten` brings what an older version or another umask left up to that."""
import logging
import os
import stat

log = logging.getLogger('clinicdesk')

PRIVATE_UMASK = 0o077


def make_private(settings):
    os.umask(PRIVATE_UMASK)
    for root in {settings.data_dir, settings.backup_dir}:
        tighten(root)


def tighten(root):
    """chmod 0700 every directory and 0600 every file under `root`, leaving
    symlinks alone; what cannot be changed (someone else's mount) is logged."""
    if not os.path.isdir(root):
        return
    _chmod(root, 0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            _chmod(os.path.join(dirpath, name), 0o700)
        for name in filenames:
            _chmod(os.path.join(dirpath, name), 0o600)


def _chmod(path, mode):
    try:
        current = os.lstat(path)
        if stat.S_ISLNK(current.st_mode) or stat.S_IMODE(current.st_mode) == mode:
            return
        os.chmod(path, mode)
    except FileNotFoundError:
        pass  # removed meanwhile (an export expiring, a WAL file closing)
    except OSError as exc:
        log.warning('cannot make %s private: %s', path, exc.strerror)
