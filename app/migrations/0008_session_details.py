"""Sessions record when they were last used (for the idle timeout), and
from which address and browser (for the user's list of their sessions).
A session from before this step counts as last seen when it was made."""
from peewee import CharField, DateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('session', 'last_seen_at', DateTimeField(null=True)),
        migrator.add_column('session', 'client_address', CharField(max_length=64, null=True)),
        migrator.add_column('session', 'user_agent', CharField(max_length=300, null=True)),
    )
    db.execute_sql('UPDATE "session" SET last_seen_at = created_at')
    migrator.migrate(migrator.add_not_null('session', 'last_seen_at'))
