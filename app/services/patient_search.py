"""Finding a patient by name, email or phone in a keystroke or two (SPEC §9).

Why a table of words and not LIKE '%…%', FTS5 or pg_trgm: a LIKE with a
leading wildcard reads every patient; FTS5 and pg_trgm are two engines with
two schemas, kept in step with triggers each database writes differently.
Instead each patient has rows in `patient_search_term` (the words of their
name and email, folded to lower case without accents, and every tail of
their phone's digits), and each typed word is one prefix range on the
(term, user) index: word prefixes for names and emails, any run of digits
for a phone. It is plain SQL on SQLite and PostgreSQL alike.

Terms hold only [0-9a-z] (and letters that fold to no ASCII), and a range's
upper end is the next string in that alphabet, never a sentinel such as
U+FFFF: PostgreSQL compares in the database's locale, where a sentinel or
punctuation may weigh nothing, but digits and letters keep their order."""
import re
import unicodedata

import peewee

from app.models import PatientSearchTerm, User

WORD_RE = re.compile(r'[^\W_]+')
PHONE_QUERY_RE = re.compile(r'[0-9+\-(). ]+', re.ASCII)
MIN_PHONE_TAIL = 3
MAX_WORDS = 6
ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'


def fold(text):
    """Lower case without accents: 'Zoë Ørsted' -> 'zoe ørsted'."""
    decomposed = unicodedata.normalize('NFKD', text.casefold())
    return ''.join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text):
    return WORD_RE.findall(fold(text or ''))


def digits(phone):
    return ''.join(ch for ch in phone or '' if '0' <= ch <= '9')


def terms(name, email, phone):
    """The set of terms a patient with these details is found by."""
    found = set(words(name)) | set(words(email))
    number = digits(phone)
    found.update(number[at:] for at in range(max(len(number) - MIN_PHONE_TAIL + 1, 1)))
    return {term[:254] for term in found if term}


def query_words(q):
    """The prefixes a search string asks for: one run of digits when it reads
    as a phone number ('+44 (0)20 7946'), else its folded words."""
    if PHONE_QUERY_RE.fullmatch(q) and digits(q):
        return [digits(q)]
    return words(q)[:MAX_WORDS]


def upper_bound(prefix):
    """The first string after every string that starts with `prefix`, or
    None when there is none (a prefix of z's)."""
    head = prefix
    while head:
        last = head[-1]
        if last in ALPHABET:
            if last != 'z':
                return head[:-1] + ALPHABET[ALPHABET.index(last) + 1]
            head = head[:-1]
        else:
            return head[:-1] + chr(ord(last) + 1)
    return None


def matching(query, q):
    """`query` (of User) narrowed to the patients whose terms start with
    every word of `q`."""
    for prefix in query_words(q):
        found = PatientSearchTerm.select(PatientSearchTerm.user).where(
            PatientSearchTerm.term >= prefix)
        end = upper_bound(prefix)
        if end is not None:
            found = found.where(PatientSearchTerm.term < end)
        query = query.where(User.id.in_(found))
    return query


def reindex(patients):
    """Replace the terms of these patients (User rows, or tuples of id,
    name, email, phone) in the caller's transaction."""
    rows = [patient if isinstance(patient, tuple) else
            (patient.id, patient.name, patient.email, patient.phone) for patient in patients]
    for batch in peewee.chunked(rows, 500):
        ids = [row[0] for row in batch]
        PatientSearchTerm.delete().where(PatientSearchTerm.user.in_(ids)).execute()
        for chunk in peewee.chunked(term_rows(batch), 500):
            PatientSearchTerm.insert_many(chunk, fields=TERM_FIELDS).execute()


TERM_FIELDS = (PatientSearchTerm.user, PatientSearchTerm.term)


def term_rows(patients):
    """(user id, term) rows, in TERM_FIELDS order, for tuples of id, name,
    email, phone of patients who have no terms yet."""
    return [(user_id, term) for user_id, name, email, phone in patients
            for term in sorted(terms(name, email, phone))]
