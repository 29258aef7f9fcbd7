"""Single-use set-password links (invitations and resets), stored hashed."""
from peewee import CharField, DateTimeField, ForeignKeyField, Model


class Base(Model):
    class Meta:
        legacy_table_names = False


class User(Base):
    class Meta:
        table_name = 'user'


class PasswordLink(Base):
    token_hash = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')
    purpose = CharField(max_length=10)
    password_mark = CharField(max_length=64)
    created_at = DateTimeField()
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


def up(migrator, db):
    PasswordLink.bind(db)
    db.create_tables([PasswordLink])
