"""Backups: consistent while the app writes, restorable into an empty data
dir, refused when corrupted or when the target is not empty."""
import datetime
import hashlib
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest

from app.services import backup
from app.settings import load

TABLES = ['user', 'appointment', 'treatment', 'outbox_message', 'job_run', 'monthly_report',
          'export']


def rows(db_path, table):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY id').fetchall()


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_backup_during_writes_restores_to_an_identical_consistent_snapshot(
        settings, patient, doctor, tmp_path):
    (settings.exports_dir / 'sample-export.csv').write_text('date,time\n2026-01-01,09:00\n')
    stop = threading.Event()
    booked = []

    def keep_booking():
        # Within the booking horizon and the doctor's 09:00-17:00: each one is booked.
        day = datetime.date.today() + datetime.timedelta(days=30)
        for minute in range(0, 60 * 8):
            if stop.is_set():
                return
            resp = patient.post('/api/appointments', {
                'doctor_id': doctor.user['id'], 'date': (day + datetime.timedelta(days=minute // 16)).isoformat(),
                'time': f'{9 + (minute % 16) // 2:02d}:{(minute % 2) * 30:02d}'})
            booked.append(resp.status)

    writer = threading.Thread(target=keep_booking)
    writer.start()
    try:
        while len(booked) < 5:
            threading.Event().wait(0.01)
        made = backup.create_backup(settings, dest_dir=tmp_path / 'backups')
    finally:
        stop.set()
        writer.join()
    assert set(booked) == {201}, booked
    assert made.path.name.startswith('clinicdesk-backup-') and made.size > 0
    assert (tmp_path / 'backups' / (made.path.name + '.sha256')).read_text().startswith(made.sha256)

    fresh = load({'CLINIC_DATA_DIR': str(tmp_path / 'restored')})
    result = backup.restore(made.path, fresh)
    assert result['database'] == 'sqlite'
    restored_db = fresh.data_dir / 'clinic.db'
    with sqlite3.connect(restored_db) as conn:
        assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    live_db = settings.data_dir / 'clinic.db'
    for table in TABLES:
        restored, live = rows(restored_db, table), rows(live_db, table)
        # A snapshot: every restored row is exactly as it is live, and the
        # rows written after the snapshot are the only difference.
        assert set(restored) <= set(live), table
    assert len(rows(restored_db, 'appointment')) >= 1
    assert sha(fresh.exports_dir / 'sample-export.csv') == sha(settings.exports_dir / 'sample-export.csv')


def test_restore_refuses_a_data_dir_that_is_not_empty_unless_forced(settings, tmp_path):
    made = backup.create_backup(settings, dest_dir=tmp_path / 'b')
    target = load({'CLINIC_DATA_DIR': str(tmp_path / 'busy')})
    (target.data_dir / 'clinic.db').write_bytes(b'existing data')
    with pytest.raises(backup.BackupError, match='not empty.*--force'):
        backup.restore(made.path, target)
    assert (target.data_dir / 'clinic.db').read_bytes() == b'existing data'
    backup.restore(made.path, target, force=True)
    with sqlite3.connect(target.data_dir / 'clinic.db') as conn:
        assert conn.execute('SELECT COUNT(*) FROM user').fetchone()[0] >= 1


def test_a_corrupted_archive_is_refused_with_a_clear_message(settings, tmp_path):
    made = backup.create_backup(settings, dest_dir=tmp_path / 'b')
    data = bytearray(made.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    made.path.write_bytes(bytes(data))
    target = load({'CLINIC_DATA_DIR': str(tmp_path / 'fresh')})
    with pytest.raises(backup.BackupError, match='checksum mismatch.*corrupted'):
        backup.restore(made.path, target)
    Path(str(made.path) + '.sha256').unlink()  # without the sidecar, gzip/manifest checks catch it
    with pytest.raises(backup.BackupError, match='corrupted'):
        backup.restore(made.path, target)
    assert not (target.data_dir / 'clinic.db').exists()


def test_an_archive_with_foreign_entries_is_refused(tmp_path):
    evil = tmp_path / 'clinicdesk-backup-evil.tar.gz'
    payload = tmp_path / 'payload'
    payload.write_text('x')
    with tarfile.open(evil, 'w:gz') as tar:
        tar.add(payload, arcname='../../escape.txt')
    target = load({'CLINIC_DATA_DIR': str(tmp_path / 'fresh')})
    with pytest.raises(backup.BackupError):
        backup.restore(evil, target)
    assert not (tmp_path.parent / 'escape.txt').exists()


def test_prune_keeps_the_newest_archives(settings, tmp_path):
    dest = tmp_path / 'b'
    made = [backup.create_backup(settings, dest_dir=dest) for _ in range(4)]
    removed = backup.prune(dest, keep=2)
    assert sorted(removed) == sorted(m.path.name for m in made[:2])
    assert [b['archive'] for b in backup.list_backups(dest)] == [m.path.name for m in made[:1:-1]]
    assert not Path(str(made[0].path) + '.sha256').exists()


def test_admin_runs_the_backup_job_and_the_status_page_shows_its_size(admin, worker, settings):
    from tests.conftest import wait_until
    before = {b['archive'] for b in backup.list_backups(settings.backup_dir)}
    started = admin.post('/api/jobs/nightly_backup/run')
    assert started.status == 202, started
    task_url = f"/api/tasks/{started.json['task_id']}"
    done = wait_until(lambda: admin.get(task_url).json['status'] in ('success', 'failed')
                      and admin.get(task_url).json, 30, message='backup task')
    assert done['status'] == 'success', done

    def backup_job():
        return next(j for j in admin.get('/api/admin/status').json['periodic']
                    if j['name'] == 'nightly_backup')
    # "Run now" while the start-up catch-up backup still runs is skipped as
    # already running; the page then shows that run once it has finished.
    job = wait_until(lambda: backup_job()['last_status'] != 'running' and backup_job(), 30,
                     message='the backup run to finish')
    made = [b for b in backup.list_backups(settings.backup_dir) if b['archive'] not in before]
    assert len(made) == 1
    assert job['last_status'] == 'success' and job['schedule'].startswith('every day at 02:30')
    # "<archive>, <size>": the size in KB or MB (the shared database grows
    # with the tests before this one), to the archive's own size.
    name, shown = job['last_summary'].split(', ')
    number, unit = shown.split(' ')
    assert name == made[0]['archive'] and unit in ('KB', 'MB')
    assert float(number) == round(made[0]['size'] / 1024 ** ('KB', 'MB').index(unit) / 1024, 1)
    assert job['next_run_at']
