"""Demo data (SPEC §6): doctors, patients and a clinic's worth of appointments.

Deterministic: one `random.Random(seed)` drives every choice, so a seed and a
clinic day give the same rows. Doctors get varied weeks and the clinic some
time off (app.services.demo_calendar); appointments start on their doctor's
grid inside the hours, never on time off, and overlap no other visit of the
doctor or of the patient (app.services.demo_schedule). Everything is written
in one transaction: the demo data is either all there or not at all. Rows
are made and written a day at a time, into tables whose secondary indexes
are built once at the end, so a million visits fit in a small process.
"""
import bisect
import contextlib
import datetime
import random

import peewee

from app import validate
from app.auth import hash_password
from app.clock import naive_utc
from app.db import database, is_sqlite
from app.errors import bad_request, conflict
from app.models import APPOINTMENT_STATUSES, Appointment, PatientSearchTerm, Treatment, User
from app.services import demo_calendar, demo_schedule, patient_search, stats
from app.services.demo_calendar import hhmm

EMAIL_DOMAIN = 'demo.clinic'
# Rows per INSERT: 10 columns x 1000 stays well below SQLite's 32,766 variables.
CHUNK = 1000
# Rows kept before they are written: a few days' worth.
BATCH = 10_000
PROGRESS_EVERY = 100_000

PAST_STATUSES = ('completed', 'cancelled', 'no_show')
PAST_CUM_WEIGHTS = (80, 92, 100)
FUTURE_STATUSES = ('booked', 'cancelled')
FUTURE_CUM_WEIGHTS = (90, 100)
# How long before its day a visit was booked.
BOOKED_AHEAD = tuple(datetime.timedelta(days=n) for n in range(1, 29))

FIRST_NAMES = (
    'Olivia', 'Liam', 'Emma', 'Noah', 'Amelia', 'Oliver', 'Sophia', 'Elijah', 'Isla',
    'James', 'Ava', 'William', 'Mia', 'Lucas', 'Charlotte', 'Mateo', 'Freya', 'Leo',
    'Aisha', 'Omar', 'Priya', 'Arjun', 'Mei', 'Wei', 'Yuki', 'Haruto', 'Sofia',
    'Luca', 'Zanele', 'Kwame', 'Fatima', 'Yusuf', 'Ingrid', 'Lars', 'Chloe', 'Ethan',
    'Grace', 'Daniel', 'Hannah', 'Samuel', 'Lucia', 'Diego', 'Nadia', 'Tomasz',
    'Eva', 'Jonas', 'Ruth', 'Patrick',
)
LAST_NAMES = (
    'Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Johnson', 'Davies',
    'Patel', 'Khan', 'Nguyen', 'Chen', 'Kim', 'Tanaka', 'Garcia', 'Martinez',
    'Rossi', 'Bianchi', 'Müller', 'Schmidt', 'Novak', 'Kowalski', 'Jensen',
    'Larsen', "O'Brien", 'Murphy', 'Okafor', 'Mensah', 'Haddad', 'Cohen', 'Silva',
    'Santos', 'Dubois', 'Moreau', 'Ivanova', 'Petrov', 'Walker', 'Wright',
    'Robinson', 'Clarke', 'Hughes', 'Edwards', 'Green', 'Hall', 'Wood', 'Ali',
    'Singh', 'Fischer',
)

# Cases per specialization: (reason, diagnosis, treatment, prescription).
CASES = {
    'General practice': (
        ('Sore throat and fever', 'Acute tonsillitis',
         'Rest and fluids; come back in a week if not better',
         'Phenoxymethylpenicillin 500 mg four times daily for 10 days'),
        ('Annual check-up', 'Routine health check, no concerns',
         'Blood pressure and bloods taken; lifestyle advice', None),
        ('Persistent cough', 'Acute bronchitis',
         'Steam inhalation and fluids; return if breathless', None),
        ('Burning when passing urine', 'Uncomplicated urinary tract infection',
         'Urine dip test; increase fluid intake',
         'Nitrofurantoin 100 mg twice daily for 3 days'),
        ('Blood pressure follow-up', 'Essential hypertension, controlled',
         'Continue current medication; recheck in 3 months', 'Amlodipine 5 mg once daily'),
    ),
    'Cardiology': (
        ('Chest pain on exertion', 'Stable angina',
         'ECG and exercise test booked; lifestyle advice',
         'Glyceryl trinitrate spray as needed; aspirin 75 mg once daily'),
        ('Palpitations', 'Paroxysmal atrial fibrillation',
         '24-hour Holter monitor; anticoagulation discussed', 'Bisoprolol 2.5 mg once daily'),
        ('Blood pressure review', 'Hypertension, not yet controlled',
         'Home blood pressure diary for two weeks', 'Ramipril 5 mg once daily'),
        ('Shortness of breath', 'Heart failure with preserved ejection fraction',
         'Echocardiogram reviewed; salt and fluid advice', 'Furosemide 40 mg once daily'),
    ),
    'Dermatology': (
        ('Itchy rash on the arms', 'Atopic eczema',
         'Emollients several times a day; avoid soap',
         'Hydrocortisone 1% cream twice daily for 7 days'),
        ('Changing mole', 'Benign melanocytic naevus',
         'Dermoscopy; photographed for monitoring', None),
        ('Acne', 'Moderate acne vulgaris', 'Skin care advice; review in 12 weeks',
         'Adapalene/benzoyl peroxide gel once daily'),
        ('Scaly patches on the elbows', 'Plaque psoriasis', 'Topical treatment plan explained',
         'Calcipotriol/betamethasone gel once daily for 4 weeks'),
    ),
    'Paediatrics': (
        ('Ear pain and fever', 'Acute otitis media',
         'Pain relief; review in 3 days if not better',
         'Amoxicillin 250 mg three times daily for 5 days'),
        ('Growth check', 'Normal growth and development',
         'Height and weight plotted on the growth chart', None),
        ('Wheezing at night', 'Childhood asthma',
         'Inhaler technique taught; asthma action plan given',
         'Salbutamol inhaler 100 mcg as needed'),
        ('Vaccination', 'Routine immunisation', 'Vaccines given as scheduled', None),
    ),
    'Orthopaedics': (
        ('Knee pain', 'Osteoarthritis of the knee', 'Physiotherapy referral; weight advice',
         'Ibuprofen 5% gel three times daily'),
        ('Twisted ankle', 'Lateral ankle sprain, grade 1',
         'Rest, ice, compression, elevation; gradual loading',
         'Paracetamol 1 g up to four times daily'),
        ('Lower back pain', 'Mechanical low back pain',
         'Stay active; core exercise sheet given', 'Naproxen 250 mg twice daily for 5 days'),
        ('Shoulder pain', 'Rotator cuff tendinopathy', 'Physiotherapy referral', None),
    ),
    'Ophthalmology': (
        ('Red itchy eyes', 'Allergic conjunctivitis', 'Cold compresses; avoid rubbing',
         'Olopatadine eye drops twice daily'),
        ('Blurred vision', 'Early cataract',
         'Glasses prescription updated; review in 12 months', None),
        ('Dry eyes', 'Dry eye disease', 'Lid hygiene and regular screen breaks',
         'Carbomer eye gel four times daily'),
        ('Glaucoma review', 'Primary open-angle glaucoma, stable',
         'Eye pressure and visual fields checked', 'Latanoprost eye drops once nightly'),
    ),
    'Ear, nose and throat': (
        ('Blocked nose for weeks', 'Chronic rhinosinusitis', 'Saline nasal rinse twice daily',
         'Mometasone nasal spray once daily'),
        ('Hearing loss', 'Impacted ear wax', 'Ear irrigation performed', None),
        ('Dizziness', 'Benign paroxysmal positional vertigo',
         'Epley manoeuvre performed; exercises given', None),
        ('Hoarse voice', 'Acute laryngitis',
         'Voice rest and fluids; review if not better in 3 weeks', None),
    ),
    'Gynaecology': (
        ('Painful periods', 'Primary dysmenorrhoea', 'Heat and exercise advice',
         'Mefenamic acid 500 mg three times daily during periods'),
        ('Contraception advice', 'Contraception review',
         'Options discussed; blood pressure checked', 'Desogestrel 75 mcg once daily'),
        ('Cervical screening', 'Routine cervical screening',
         'Sample taken; results by letter', None),
        ('Hot flushes', 'Menopausal symptoms', 'HRT options and risks discussed',
         'Estradiol gel 0.06% daily with micronised progesterone'),
    ),
}
SPECIALIZATIONS = tuple(CASES)


def generate(clock, *, doctors=8, patients=60, appointments=1500, seed=1,
             password='demo-pass-123', progress=None):
    """Fill an empty, migrated database with demo data; returns the counts.

    Refuses with ApiError 409 when demo accounts already exist: a second run
    would mix two data sets, so start from an empty database instead."""
    _check_size(doctors, patients, appointments)
    password = validate.password({'password': password})
    progress = progress or (lambda message: None)
    rng = random.Random(seed)
    now = clock.now()
    today = now.date()
    weeks = demo_calendar.weeks(rng, doctors)
    time_off = demo_calendar.time_off(today, doctors)
    schedule = _fill(rng, today, now.hour * 60 + now.minute, weeks, time_off, patients,
                     appointments)
    # scrypt is slow on purpose (~0.1 s), so every demo account shares one hash.
    password_hash = hash_password(password)
    user_fields, users = _users(rng, weeks, patients, password_hash,
                               _utc(clock.tz, schedule.days[0], '08:00'))

    # One transaction: all or nothing, and on SQLite its write lock keeps
    # the explicit appointment ids below ours until commit.
    with database.atomic():
        database.after_commit(stats.invalidate)
        if _demo_users().exists():
            raise _already_there()
        try:
            _insert(User, user_fields, users)
        except peewee.IntegrityError:
            raise _already_there()
        ids = {user.email: user.id for user in _demo_users().select(User.id, User.email)}
        doctor_ids = [ids[f'doctor{n}@{EMAIL_DOMAIN}'] for n in range(1, doctors + 1)]
        patient_ids = [ids[f'patient{n}@{EMAIL_DOMAIN}'] for n in range(1, patients + 1)]
        demo_calendar.save(doctor_ids, weeks, time_off)
        # New patients: their terms are added, with nothing to replace.
        patients_found = (_demo_users().select(User.id, User.name, User.email, User.phone)
                          .where(User.role == 'patient').tuples())
        for batch in peewee.chunked(patients_found.iterator(), CHUNK):
            _insert(PatientSearchTerm, patient_search.TERM_FIELDS,
                    patient_search.term_rows(batch))
        progress(f'accounts {doctors} doctors, {patients} patients')
        table = Appointment._meta.table_name
        if not is_sqlite():
            # Keep concurrent bookings from taking one of our explicit ids
            # until the sequence is moved past them (dropping the indexes
            # below holds off reads too, until commit).
            database.execute_sql(f'LOCK TABLE {table} IN EXCLUSIVE MODE')
        first_id = (Appointment.select(peewee.fn.MAX(Appointment.id)).scalar() or 0) + 1
        with _indexes_built_after(Appointment, Treatment):
            statuses, treatments = _write_appointments(
                rng, clock, schedule, today, first_id, weeks, doctor_ids, patient_ids, progress)
        if len(schedule) and not is_sqlite():
            database.execute_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT MAX(id) FROM {table}))")

    counts = {'doctors': doctors, 'patients': patients, 'appointments': len(schedule)}
    counts.update({status: statuses[status] for status in APPOINTMENT_STATUSES})
    counts['treatments'] = treatments
    return counts


def _check_size(doctors, patients, appointments):
    for field, value, low in (('doctors', doctors, 1), ('patients', patients, 1),
                              ('appointments', appointments, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise bad_request(field, f'must be a whole number of at least {low}')


def _already_there():
    return conflict(f'demo data is already in this database (accounts @{EMAIL_DOMAIN} exist); '
                    'to generate it again, start from an empty database or data directory')


def _demo_users():
    return User.select().where(User.email.endswith(f'@{EMAIL_DOMAIN}'))


def _too_many(appointments):
    return bad_request('appointments', f'{appointments} do not fit in '
                       f'{demo_schedule.MAX_DAYS} days; '
                       'add doctors and patients or ask for fewer appointments')


def _fill(rng, today, now_minute, weeks, time_off, patients, appointments):
    """The Schedule of every visit, reaching further back when time off
    and the patients' own diaries left too few starts free."""
    count = demo_schedule.day_count(weeks, patients, appointments)
    while count is not None:
        days = demo_schedule.days_ending_ahead(today, count)
        closures = demo_calendar.Closures(time_off, days)
        schedule = demo_schedule.plan(rng, days, today, now_minute, weeks, closures, patients,
                                      appointments)
        if len(schedule) == appointments:
            return schedule
        count = None if count == demo_schedule.MAX_DAYS else min(demo_schedule.MAX_DAYS,
                                                                  count + count // 4 + 1)
    raise _too_many(appointments)


def _utc(tz, day, hhmm):
    """Naive UTC of a clinic-time date and HH:MM, the form the database stores."""
    local = datetime.datetime.combine(day, datetime.time.fromisoformat(hhmm), tzinfo=tz)
    return naive_utc(local)


def _name(rng):
    return f'{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}'


def _specialization(doctor_index):
    return SPECIALIZATIONS[doctor_index % len(SPECIALIZATIONS)]


def _users(rng, weeks, patients, password_hash, created_at):
    fields = (User.email, User.password_hash, User.name, User.phone, User.role,
              User.specialization, User.reminders_enabled, User.slot_minutes, User.created_at)
    rows = []
    for n, week in enumerate(weeks, start=1):
        rows.append((f'doctor{n}@{EMAIL_DOMAIN}', password_hash, _name(rng), None,
                     'doctor', _specialization(n - 1), True, week.minutes, created_at))
    # The front desk (SPEC §9): one receptionist.
    rows.append((f'reception1@{EMAIL_DOMAIN}', password_hash, _name(rng), None, 'reception',
                 None, False, 30, created_at))
    for n in range(1, patients + 1):
        # Ofcom's drama range (07700 900000-900999): no real phone rings.
        phone = f'+44 7700 900{rng.randrange(1000):03d}'
        rows.append((f'patient{n}@{EMAIL_DOMAIN}', password_hash, _name(rng), phone,
                     'patient', None, rng.random() < 0.9, 30, created_at))
    return fields, rows


def _patients_for_day(rng, slots, weeks, patients):
    """Patient indexes for one day's (start, doctor) slots (in start order): all different
    when there are enough patients, otherwise each one free at the start.
    Taking starts in order, someone is always free: never more visits run
    at once than there are patients."""
    if len(slots) <= patients:
        return rng.sample(range(patients), len(slots))
    free_at, chosen = [0] * patients, []
    for start, doctor in slots:
        patient = rng.choice([p for p in range(patients) if free_at[p] <= start])
        free_at[patient] = start + weeks[doctor].minutes
        chosen.append(patient)
    return chosen


def _statuses(day, today):
    """The statuses a visit on `day` may have and their cumulative weights."""
    if day < today:
        return PAST_STATUSES, PAST_CUM_WEIGHTS
    if day == today:
        # All of today stays booked, also earlier hours: work for the
        # reminder job and for the doctor completing the day.
        return ('booked',), (1,)
    return FUTURE_STATUSES, FUTURE_CUM_WEIGHTS


APPOINTMENT_FIELDS = (Appointment.id, Appointment.patient, Appointment.doctor, Appointment.date,
                      Appointment.time, Appointment.minutes, Appointment.status,
                      Appointment.reason, Appointment.created_at, Appointment.updated_at)
TREATMENT_FIELDS = (Treatment.appointment, Treatment.diagnosis, Treatment.treatment,
                    Treatment.prescription, Treatment.created_at)


def _write_appointments(rng, clock, schedule, today, first_id, weeks, doctor_ids, patient_ids,
                        progress):
    """Make and write the visits a day at a time; returns the count per
    status and the number of treatments."""
    statuses = dict.fromkeys(APPOINTMENT_STATUSES, 0)
    rows, treatments, written, treated = [], [], 0, 0
    next_id = first_id
    for day, day_slots in schedule.by_day():
        for row, treatment in _day_rows(rng, clock, day, day_slots, today, next_id, weeks,
                                        doctor_ids, patient_ids):
            rows.append(row)
            statuses[row[6]] += 1
            if treatment:
                treatments.append(treatment)
        next_id += len(day_slots)
        if len(rows) >= BATCH:
            written, treated = _flush(rows, treatments, written, treated, len(schedule), progress)
    _, treated = _flush(rows, treatments, written, treated, len(schedule), progress)
    return statuses, treated


def _flush(rows, treatments, written, treated, total, progress):
    if not rows:  # the last batch was full: said already
        return written, treated
    _insert(Appointment, APPOINTMENT_FIELDS, rows)
    _insert(Treatment, TREATMENT_FIELDS, treatments)
    written, treated = written + len(rows), treated + len(treatments)
    if written // PROGRESS_EVERY > (written - len(rows)) // PROGRESS_EVERY or written == total:
        progress(f'appointments {written}/{total}')
    rows.clear()
    treatments.clear()
    return written, treated


def _day_rows(rng, clock, day, day_slots, today, first_id, weeks, doctor_ids, patient_ids):
    """(appointment row, treatment row or None) for each of one day's
    (start, doctor) slots, ids from `first_id` on."""
    # A million rows: plain draws from rng.random() instead of choices()
    # and randint(), which cost several times as much.
    draw = rng.random
    now = clock.utcnow()
    # Demo hours keep clear of the small hours, so the day has one UTC offset.
    midnight = _utc(clock.tz, day, '12:00') - datetime.timedelta(hours=12)
    statuses, cum_weights = _statuses(day, today)
    who = _patients_for_day(rng, day_slots, weeks, len(patient_ids))
    for n, ((minute, doctor), patient) in enumerate(zip(day_slots, who)):
        minutes = weeks[doctor].minutes
        start = midnight + datetime.timedelta(minutes=minute)
        status = statuses[bisect.bisect(cum_weights, draw() * cum_weights[-1])]
        cases = CASES[_specialization(doctor)]
        reason, diagnosis, treatment, prescription = cases[int(draw() * len(cases))]
        created = min(now, start - BOOKED_AHEAD[int(draw() * len(BOOKED_AHEAD))])
        if status in ('completed', 'no_show'):
            updated = start + datetime.timedelta(minutes=minutes)
        elif status == 'cancelled':
            updated = max(created, min(now, start - datetime.timedelta(days=1)))
        else:
            updated = created
        row = (first_id + n, patient_ids[patient], doctor_ids[doctor], day, hhmm(minute),
               minutes, status, reason, created, updated)
        yield row, ((first_id + n, diagnosis, treatment, prescription, updated)
                    if status == 'completed' else None)


@contextlib.contextmanager
def _indexes_built_after(*models):
    """Drop the tables' secondary indexes and create them again from their
    stored definitions on the way out (whatever migrations made them), so
    the rows go in append-only and each index is built once by a sort. The
    unique ones, built last, check that nobody was booked twice. On error
    the transaction rolls the drop back with the rest."""
    indexes = [index for model in models for index in _secondary_indexes(model)]
    for index in indexes:
        database.execute_sql(f'DROP INDEX "{index.name}"')
    yield
    for index in indexes:
        database.execute_sql(index.sql)


def _secondary_indexes(model):
    table = model._meta.table_name
    indexes = database.get_indexes(table)
    if not is_sqlite():  # those behind a constraint (primary key) stay
        owned = {name for name, in database.execute_sql(
            'SELECT i.relname FROM pg_constraint c JOIN pg_class i ON i.oid = c.conindid '
            'WHERE c.conrelid = %s::regclass', (table,))}
        indexes = [index for index in indexes if index.name not in owned]
    return [index for index in indexes if index.sql]


def _insert(model, fields, rows):
    if not rows:
        return
    if not is_sqlite():
        for chunk in peewee.chunked(rows, CHUNK):
            model.insert_many(chunk, fields=fields).execute()
        return
    # One prepared statement for every row: far cheaper than building each
    # multi-row INSERT in Python. Plain SQL has to name the defaults peewee
    # would fill in.
    named = {field.name for field in fields}
    defaults = [field for field in model._meta.sorted_fields
                if field.name not in named and field.default is not None]
    extra = tuple(field.db_value(field.default() if callable(field.default) else field.default)
                  for field in defaults)
    columns = ', '.join(f'"{field.column_name}"' for field in (*fields, *defaults))
    marks = ', '.join('?' for _ in (*fields, *defaults))
    with peewee.__exception_wrapper__:  # peewee's errors, as execute_sql raises
        database.cursor().executemany(
            f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})',
            (row + extra for row in rows) if extra else rows)
