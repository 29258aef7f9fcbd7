"""Demo data (SPEC §6): doctors, patients and a clinic's worth of appointments.

Deterministic: one `random.Random(seed)` drives every choice, so a seed and a
clinic day give the same rows. Doctors get varied weeks and the clinic some
time off (app.services.demo_calendar); appointments start on their doctor's
grid inside the hours, never on time off, and overlap no other visit of the
doctor or of the patient. Everything is written in one transaction: the demo
data is either all there or not at all.
"""
import collections
import datetime
import itertools
import math
import random

import peewee

from app import validate
from app.auth import hash_password
from app.clock import naive_utc
from app.db import database, is_sqlite
from app.errors import bad_request, conflict
from app.models import APPOINTMENT_STATUSES, Appointment, Treatment, User
from app.services import demo_calendar, patient_search, stats
from app.services.demo_calendar import GRAIN, hhmm

EMAIL_DOMAIN = 'demo.clinic'
PAST_DAYS = 120
FUTURE_DAYS = 21
# Longest range we widen to when many appointments are asked of few doctors.
MAX_DAYS = 3660
# Share of the starts in the range that may be taken; the rest stays free, so
# demo patients can still book and the schedule looks like a real one.
MAX_FILL = 0.85
# Appointments guaranteed today and on the next two days whatever the seed,
# so the reminder job and the doctors' day views always have work.
MINIMUM_AHEAD = (4, 2, 2)
# Rows per INSERT: 10 columns x 1000 stays well below SQLite's 32,766 variables.
CHUNK = 1000
PROGRESS_EVERY = 10_000

PAST_STATUSES = ('completed', 'cancelled', 'no_show')
PAST_CUM_WEIGHTS = (80, 92, 100)
FUTURE_STATUSES = ('booked', 'cancelled')
FUTURE_CUM_WEIGHTS = (90, 100)
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.4, 0.15)  # Monday .. Sunday

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
    first_day, slots = _fill(rng, today, now.hour * 60 + now.minute, weeks, time_off,
                             patients, appointments)
    # scrypt is slow on purpose (~0.1 s), so every demo account shares one hash.
    password_hash = hash_password(password)
    user_fields, users = _users(rng, weeks, patients, password_hash,
                               _utc(clock.tz, first_day, '08:00'))

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
        patient_search.reindex(_demo_users()
                               .select(User.id, User.name, User.email, User.phone)
                               .where(User.role == 'patient')
                               .tuples())
        progress(f'accounts {doctors} doctors, {patients} patients')
        table = Appointment._meta.table_name
        if not is_sqlite():
            # Keep concurrent bookings from taking one of our explicit ids
            # until the sequence is moved past them (reads still work).
            database.execute_sql(f'LOCK TABLE {table} IN EXCLUSIVE MODE')
        first_id = (Appointment.select(peewee.fn.MAX(Appointment.id)).scalar() or 0) + 1
        (fields, rows), (treatment_fields, treatments) = _appointment_rows(
            rng, clock, slots, today, first_id, weeks, doctor_ids, patient_ids)
        _insert(Appointment, fields, rows, progress=progress, label='appointments')
        _insert(Treatment, treatment_fields, treatments, progress=progress, label='treatments')
        if rows and not is_sqlite():
            database.execute_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT MAX(id) FROM {table}))")

        statuses = dict(Appointment
                        .select(Appointment.status, peewee.fn.COUNT(Appointment.id))
                        .where(Appointment.id >= first_id)
                        .group_by(Appointment.status)
                        .tuples())

    counts = {'doctors': doctors, 'patients': patients, 'appointments': len(rows)}
    counts.update({status: statuses.get(status, 0) for status in APPOINTMENT_STATUSES})
    counts['treatments'] = len(treatments)
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
    return bad_request('appointments', f'{appointments} do not fit in {MAX_DAYS} days; '
                       'add doctors and patients or ask for fewer appointments')


def _day_count(weeks, patients, appointments):
    """How many clinic days to fill: ~4 months back to 3 weeks ahead,
    reaching further back when the requested appointments would not fit."""
    per_day = sum(week.weekly_starts() for week in weeks) / 7
    if patients < len(weeks):
        per_day *= patients / len(weeks)  # fewer patients than doctors: they are the limit
    count = max(PAST_DAYS + 1 + FUTURE_DAYS, math.ceil(appointments / (per_day * MAX_FILL)))
    if count > MAX_DAYS:
        raise _too_many(appointments)
    return count


def _days(today, count):
    first = today + datetime.timedelta(days=FUTURE_DAYS - count + 1)
    return [first + datetime.timedelta(days=n) for n in range(count)]


def _fill(rng, today, now_minute, weeks, time_off, patients, appointments):
    """The first day filled and the chosen (day, start minute, doctor index),
    reaching further back when time off and the patients' own diaries left
    too few starts free."""
    count = _day_count(weeks, patients, appointments)
    while True:
        days = _days(today, count)
        closures = demo_calendar.Closures(time_off, days)
        slots = _choose_slots(rng, days, today, now_minute, weeks, closures, patients,
                              appointments)
        if len(slots) == appointments:
            return days[0], slots
        if count == MAX_DAYS:
            raise _too_many(appointments)
        count = min(MAX_DAYS, count + count // 4 + 1)


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


def _day_weight(rng, day, today):
    weight = WEEKDAY_WEIGHTS[day.weekday()]
    ahead = (day - today).days
    if ahead > 0:
        # Bookings thin out further ahead: most are made a week or two before.
        weight *= 1.0 - 0.7 * ahead / (FUTURE_DAYS + 1)
    return weight * rng.uniform(0.8, 1.2)


def _candidates(rng, days, today, weeks, closures):
    """Every free start of every doctor on `days`, keyed for a weighted
    sample without replacement (Efraimidis-Spirakis): busy weekdays, busier
    and less busy doctors. Returns the keyed list and each day's span in it."""
    busyness = [rng.uniform(0.5, 1.0) for _ in weeks]
    keyed, spans = [], []
    for d, day in enumerate(days):
        day_weight = _day_weight(rng, day, today)
        first, weekday, closed = len(keyed), day.weekday(), closures.by_day[day]
        for doctor, week in enumerate(weeks):
            power = 1.0 / (day_weight * busyness[doctor])
            for start in week.starts[weekday]:
                if closed and closures.blocks(day, doctor, start, week.minutes):
                    continue
                keyed.append((rng.random() ** power, d, start, doctor))
        spans.append((first, len(keyed)))
    return keyed, spans


def _choose_slots(rng, days, today, now_minute, weeks, closures, patients, appointments):
    """Sorted (day, start minute, doctor index) for at most `appointments`
    visits: never one doctor twice at a start, and never more visits at
    once than there are patients to sit in them."""
    keyed, spans = _candidates(rng, days, today, weeks, closures)
    today_index = days.index(today)
    for offset, minimum in enumerate(MINIMUM_AHEAD):
        if today_index + offset >= len(days):
            break
        first, last = spans[today_index + offset]
        day_slots = sorted(keyed[first:last], reverse=True)
        if offset == 0:
            # Today's sure ones are still ahead when they can be: reminder work.
            day_slots = [s for s in day_slots if s[2] > now_minute] or day_slots
        for key, d, start, doctor in day_slots[:minimum]:
            keyed.append((key + 1.0, d, start, doctor))  # keys are < 1: these win
    keyed.sort(reverse=True)

    # A doctor's visits never overlap, so only with fewer patients than
    # doctors can too many happen at once; count them per GRAIN minutes.
    limited = patients < len(weeks)
    chosen, taken, at_once = [], set(), collections.Counter()
    for key, d, start, doctor in keyed:
        if len(chosen) == appointments:
            break
        if (d, start, doctor) in taken:
            continue
        if limited:
            grains = [(d, g) for g in range(start // GRAIN,
                                            (start + weeks[doctor].minutes) // GRAIN)]
            if any(at_once[g] >= patients for g in grains):
                continue
            at_once.update(grains)
        taken.add((d, start, doctor))
        chosen.append((d, start, doctor))
    chosen.sort()
    return [(days[d], start, doctor) for d, start, doctor in chosen]


def _patients_for_day(rng, slots, weeks, patients):
    """Patient indexes for one day's slots (in start order): all different
    when there are enough patients, otherwise each one free at the start.
    Taking starts in order, someone is always free: never more visits run
    at once than there are patients."""
    if len(slots) <= patients:
        return rng.sample(range(patients), len(slots))
    free_at, chosen = [0] * patients, []
    for _, start, doctor in slots:
        patient = rng.choice([p for p in range(patients) if free_at[p] <= start])
        free_at[patient] = start + weeks[doctor].minutes
        chosen.append(patient)
    return chosen


def _status(rng, day, today):
    if day < today:
        return rng.choices(PAST_STATUSES, cum_weights=PAST_CUM_WEIGHTS)[0]
    if day == today:
        # All of today stays booked, also earlier hours: work for the
        # reminder job and for the doctor completing the day.
        return 'booked'
    return rng.choices(FUTURE_STATUSES, cum_weights=FUTURE_CUM_WEIGHTS)[0]


def _appointment_rows(rng, clock, slots, today, first_id, weeks, doctor_ids, patient_ids):
    fields = (Appointment.id, Appointment.patient, Appointment.doctor, Appointment.date,
              Appointment.time, Appointment.minutes, Appointment.status, Appointment.reason,
              Appointment.created_at, Appointment.updated_at)
    treatment_fields = (Treatment.appointment, Treatment.diagnosis, Treatment.treatment,
                        Treatment.prescription, Treatment.created_at)
    now = clock.utcnow()
    rows, treatments = [], []
    next_id = first_id
    for day, day_slots in itertools.groupby(slots, key=lambda slot: slot[0]):
        day_slots = list(day_slots)
        who = _patients_for_day(rng, day_slots, weeks, len(patient_ids))
        for (_, minute, doctor), patient in zip(day_slots, who):
            time, minutes = hhmm(minute), weeks[doctor].minutes
            start = _utc(clock.tz, day, time)
            status = _status(rng, day, today)
            reason, diagnosis, treatment, prescription = rng.choice(CASES[_specialization(doctor)])
            created = min(now, start - datetime.timedelta(days=rng.randint(1, 28)))
            if status in ('completed', 'no_show'):
                updated = start + datetime.timedelta(minutes=minutes)
            elif status == 'cancelled':
                updated = max(created, min(now, start - datetime.timedelta(days=1)))
            else:
                updated = created
            rows.append((next_id, patient_ids[patient], doctor_ids[doctor], day, time, minutes,
                         status, reason, created, updated))
            if status == 'completed':
                treatments.append((next_id, diagnosis, treatment, prescription, updated))
            next_id += 1
    return (fields, rows), (treatment_fields, treatments)


def _insert(model, fields, rows, progress=None, label=None):
    done = 0
    for chunk in peewee.chunked(rows, CHUNK):
        model.insert_many(chunk, fields=fields).execute()
        done += len(chunk)
        if progress and (done % PROGRESS_EVERY == 0 or done == len(rows)):
            progress(f'{label} {done}/{len(rows)}')
