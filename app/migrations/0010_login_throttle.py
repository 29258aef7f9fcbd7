"""Login throttling with a growing delay instead of a lock (SPEC §10): one
counter row per (account, client address) and per address replaces the
log of failures, which could only be counted after the fact and so let
parallel guesses through. Old failures are dropped: the worst they can do
is give an attacker five more tries once."""
from peewee import CharField, CompositeKey, DateTimeField, IntegerField, Model


class Base(Model):
    class Meta:
        legacy_table_names = False


class LoginThrottle(Base):
    account = CharField(max_length=254)
    address = CharField(max_length=45)
    tries = IntegerField()
    last_try_at = DateTimeField()
    delayed_until = DateTimeField(null=True)

    class Meta:
        primary_key = CompositeKey('account', 'address')


def up(migrator, db):
    LoginThrottle.bind(db)
    db.create_tables([LoginThrottle])
    db.execute_sql('DROP TABLE login_failure')
