"""The admin dashboard figures, cached.

Every write that changes a figure calls invalidate() once its transaction
has committed (see accounts and appointments). invalidate() bumps a
generation counter as well as dropping the copy: a request that started
computing before the write would otherwise store pre-write figures right
after the drop, and they would be served until they expire.
"""
from peewee import fn

from app import cache
from app.models import APPOINTMENT_STATUSES, Appointment, User

KEY = 'admin-stats'
GENERATION_KEY = 'admin-stats:generation'


def compute(clock):
    """The figures, straight from the database, in one query."""
    users = (User
             .select(User.role, fn.COUNT(User.id))
             .where(User.role.in_(('patient', 'doctor')), User.active == True)  # noqa: E712
             .group_by(User.role))
    appointments = (Appointment
                    .select(Appointment.status, fn.COUNT(Appointment.id))
                    .group_by(Appointment.status))
    # Roles and statuses are disjoint words, so one UNION ALL keeps them apart.
    counts = dict((users + appointments).tuples())
    return {
        'patients': counts.get('patient', 0),
        'doctors': counts.get('doctor', 0),
        'appointments': {status: counts.get(status, 0) for status in APPOINTMENT_STATUSES},
        'generated_at': clock.iso(clock.utcnow()),
    }


def get(settings, clock):
    """(figures, hit): the cached copy if it is current, else fresh ones."""
    cached, generation = cache.get_many([KEY, GENERATION_KEY])
    generation = generation or 0
    if cached is not None and cached.get('generation') == generation:
        return cached['figures'], True
    figures = compute(clock)
    if settings.stats_cache_seconds > 0:
        cache.set(KEY, {'generation': generation, 'figures': figures},
                  ttl=settings.stats_cache_seconds)
    return figures, False


def invalidate():
    cache.incr(GENERATION_KEY)
    cache.delete(KEY)
