"""Files at rest are the app user's only (SPEC §10): under the data dir
(and the backup dir) files are 0600 and directories 0700, whether the app
makes them now or an older version left them open. Every file here is made
through the app: `run.py` commands and the running worker."""
import os
import stat
import subprocess
import sys

from app.db import database
from app.models import Export, ReportExecution
from app.services.report_runs import files_dir
from tests.conftest import ROOT, base_env
from tests.test_exports import export_csv
from tests.test_reports import create_report, wait_for_execution


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def run_py(env, *args):
    # A loose umask, as a shell would give: the app must not rely on ours.
    return subprocess.run([sys.executable, str(ROOT / 'run.py'), *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120, umask=0o022)


def fresh_env(data_dir, **extra):
    env = base_env(data_dir, ADMIN_PASSWORD='a-long-admin-password', **extra)
    del env['SECRET_KEY']  # generated into the data dir
    return env


def loose_modes(root):
    """Every path under `root` (itself too) whose mode is not private."""
    found = [] if mode(root) == 0o700 else [(str(root), oct(mode(root)))]
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            wanted = 0o700 if name in dirnames else 0o600
            if mode(path) != wanted:
                found.append((path, oct(mode(path))))
    return found


def test_a_new_data_dir_with_its_database_and_secret_key_is_private(tmp_path):
    data = tmp_path / 'data'
    result = run_py(fresh_env(data), 'create-admin', 'boss@clinic.example')
    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700 and mode(data / 'exports') == 0o700
    assert mode(data / 'clinic.db') == 0o600 and mode(data / 'secret_key') == 0o600
    assert loose_modes(data) == []


def test_backup_archives_and_their_checksums_are_private(tmp_path):
    data = tmp_path / 'data'
    assert run_py(fresh_env(data), 'create-admin', 'boss@clinic.example').returncode == 0
    result = run_py(fresh_env(data), 'backup')
    assert result.returncode == 0, result.stderr
    archives = list((data / 'backups').glob('clinicdesk-backup-*'))
    assert len(archives) == 2  # the archive and its .sha256
    assert mode(data / 'backups') == 0o700
    assert [mode(path) for path in archives] == [0o600, 0o600]
    assert loose_modes(data) == []


def test_files_an_older_version_left_open_are_made_private_at_start(tmp_path):
    data = tmp_path / 'data'
    elsewhere = tmp_path / 'elsewhere-backups'
    for directory in (data / 'exports', data / 'reports', elsewhere):
        directory.mkdir(parents=True)
        os.chmod(directory, 0o755)
    os.chmod(data, 0o755)
    for path in (data / 'exports' / 'old.csv', data / 'reports' / 'old.pdf',
                 data / 'clinic.db', elsewhere / 'clinicdesk-backup-old.tar.gz'):
        path.write_bytes(b'')
        os.chmod(path, 0o644)
    env = fresh_env(data, BACKUP_DIR=elsewhere)
    assert run_py(env, 'create-admin', 'boss@clinic.example').returncode == 0
    assert loose_modes(data) == [] and loose_modes(elsewhere) == []


def test_export_and_report_files_the_worker_writes_are_private(worker, settings, patient,
                                                               admin):
    task_id, _, _ = export_csv(patient)
    report = create_report(admin)
    started = admin.post(f'/api/reports/{report["id"]}/run').json
    wait_for_execution(admin, report['id'], started['execution_id'])
    with database.connection_context():
        export = Export.get(Export.task_id == task_id)
        execution = ReportExecution.get_by_id(started['execution_id'])
    assert mode(settings.exports_dir) == 0o700
    assert mode(settings.exports_dir / export.file_name) == 0o600
    assert mode(files_dir(settings)) == 0o700
    assert mode(files_dir(settings) / execution.file_name) == 0o600
