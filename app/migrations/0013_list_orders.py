"""Indexes for the orders the appointment lists use (SPEC §6 paging): the
list in time order, whole or by status. Without them SQLite sorted the
whole table for every page: a second at a million appointments."""


def up(migrator, db):
    migrator.migrate(
        migrator.add_index('appointment', ('date', 'time'), False),
        migrator.add_index('appointment', ('status', 'date', 'time'), False))
