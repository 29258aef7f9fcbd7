"""The admin dashboard figures, cached as one family of app.cache.

Every write that changes a figure calls invalidate() once its transaction
has committed (see accounts and appointments); it bumps the family's
generation, which retires every cached copy in every process.
"""
import json

from peewee import fn

from app import cache
from app.models import APPOINTMENT_STATUSES, Appointment, User

FAMILY = 'admin-stats'


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


def _current(settings, clock):
    """(entry, hit): the cached entry if it is current, else a fresh one.
    The entry keeps the JSON too, so a cached answer is not encoded again."""
    generation, cached = cache.get(FAMILY)
    if cached is not None:
        return cached, True
    figures = compute(clock)
    entry = {'figures': figures, 'json': json.dumps(figures, ensure_ascii=False)}
    if settings.stats_cache_seconds > 0:
        cache.put(FAMILY, generation, entry, settings.stats_cache_seconds)
    return entry, False


def get(settings, clock):
    """(figures, hit)."""
    entry, hit = _current(settings, clock)
    return entry['figures'], hit


def get_json(settings, clock):
    """(figures as JSON text, hit)."""
    entry, hit = _current(settings, clock)
    return entry['json'], hit


def cached_json():
    """The figures as JSON text while a current copy is cached, else None:
    the hot path of GET /api/admin/stats (SPEC P4) needs nothing else."""
    cached = cache.get(FAMILY)[1]
    return cached['json'] if cached is not None else None


def invalidate():
    cache.bump(FAMILY)
