"""Patients' details for the front desk (SPEC §9): a date of birth, an email
that a walk-in may lack (still unique where present: SQLite and PostgreSQL
both let a unique index hold many NULLs), and the words patients are found
by. Existing patients get their words here, with the rules of the day this
step was written (frozen below; app.services.patient_search holds the live
ones)."""
import re
import unicodedata

from peewee import CharField, DateField, ForeignKeyField, Model, chunked


class Base(Model):
    class Meta:
        legacy_table_names = False


class User(Base):
    class Meta:
        table_name = 'user'


class PatientSearchTerm(Base):
    term = CharField(max_length=254)
    user = ForeignKeyField(User, on_delete='CASCADE', index=True, backref='+')

    class Meta:
        indexes = ((('term', 'user'), True),)


WORD_RE = re.compile(r'[^\W_]+')


def _words(text):
    decomposed = unicodedata.normalize('NFKD', (text or '').casefold())
    return WORD_RE.findall(''.join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _terms(name, email, phone):
    found = set(_words(name)) | set(_words(email))
    number = ''.join(ch for ch in phone or '' if '0' <= ch <= '9')
    found.update(number[at:] for at in range(max(len(number) - 2, 1)))
    return {term[:254] for term in found if term}


def up(migrator, db):
    PatientSearchTerm.bind(db)
    db.create_tables([PatientSearchTerm])
    migrator.migrate(
        migrator.add_column('user', 'date_of_birth', DateField(null=True)),
        migrator.drop_not_null('user', 'email'),
    )
    patients = db.execute_sql('SELECT id, name, email, phone FROM "user" WHERE role = %s'
                              % db.param, ('patient',)).fetchall()
    rows = [{'user': user_id, 'term': term} for user_id, name, email, phone in patients
            for term in sorted(_terms(name, email, phone))]
    for batch in chunked(rows, 500):
        PatientSearchTerm.insert_many(batch).execute()
