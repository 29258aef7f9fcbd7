"""One claim vocabulary (app.workers): an export names its `owner`
('host:pid:token') and counts `attempts` as job runs and report executions
do; a heartbeat carries its consumer's token."""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('export', 'owner', CharField(max_length=120, null=True)),
        migrator.add_column('worker_heartbeat', 'token', CharField(max_length=16, null=True)))
    # The old columns held the host:pid and the token apart.
    db.execute_sql('UPDATE "export" SET "owner" = "worker" || \':\' || "worker_token" '
                   'WHERE "worker" IS NOT NULL AND "worker_token" IS NOT NULL')
    db.execute_sql('UPDATE "export" SET "owner" = "worker" '
                   'WHERE "worker" IS NOT NULL AND "worker_token" IS NULL')
    migrator.migrate(
        migrator.drop_column('export', 'worker'),
        migrator.drop_column('export', 'worker_token'),
        migrator.rename_column('export', 'attempt', 'attempts'))
