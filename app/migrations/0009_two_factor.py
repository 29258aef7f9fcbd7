"""Staff two-factor: TOTP secrets, recovery codes, and logins waiting for a code."""
from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, Model


class Base(Model):
    class Meta:
        legacy_table_names = False


class User(Base):
    class Meta:
        table_name = 'user'


class TwoFactor(Base):
    user = ForeignKeyField(User, primary_key=True, on_delete='CASCADE', backref='+')
    secret = CharField(max_length=64)
    created_at = DateTimeField()
    confirmed_at = DateTimeField(null=True)
    last_step = BigIntegerField(null=True)


class RecoveryCode(Base):
    user = ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')
    code_hash = CharField(max_length=64, unique=True)
    used_at = DateTimeField(null=True)


class PendingLogin(Base):
    token_hash = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')
    expires_at = DateTimeField(index=True)


def up(migrator, db):
    for model in (TwoFactor, RecoveryCode, PendingLogin):
        model.bind(db)
    db.create_tables([TwoFactor, RecoveryCode, PendingLogin])
