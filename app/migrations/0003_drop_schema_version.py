"""The released code counted its one step in `schema_version`; the
runner's `schema_migration` history replaces it (0001 adopts a database
that has it)."""


def up(migrator, db):
    db.execute_sql('DROP TABLE "schema_version"')
