"""Admin dashboard figures (SPEC §6 GET /api/admin/stats): served from a cache
that expires after STATS_CACHE_SECONDS and is dropped by every write that
changes a figure; the cache itself (in-process and Redis), including Redis
going away and coming back."""
import datetime
import logging

import pytest

from app.cache import MemoryCache, RedisCache
from app.db import database
from app.factory import create_app
from app.models import Appointment
from app.services import stats
from tests.client import Client
from tests.conftest import PASSWORD, RedisServer, ServerThread, unique_email, wait_until

STATUSES = ('booked', 'completed', 'cancelled', 'no_show')


def read(admin):
    resp = admin.get('/api/admin/stats')
    assert resp.status == 200, resp
    return resp.headers['X-Cache'], resp.json


def warm(admin):
    """Read until the copy is cached; the figures it holds."""
    read(admin)
    cache, figures = read(admin)
    assert cache == 'HIT'
    return figures


def appointment_yesterday(patient, doctor):
    """A booked appointment on a past day, as the doctor would find it on
    their schedule (booking over the API refuses the past)."""
    with database.connection_context():
        return Appointment.create(patient=patient.user['id'], doctor=doctor.user['id'],
                                  date=datetime.date.today() - datetime.timedelta(days=1),
                                  time='09:00', status='booked').id


def book_tomorrow(patient, doctor, time='10:00'):
    day = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    resp = patient.post('/api/appointments',
                        {'doctor_id': doctor.user['id'], 'date': day, 'time': time})
    assert resp.status == 201, resp
    return resp.json['id']


def test_admin_stats_answers_every_figure_and_says_it_was_computed(admin, patient):
    cache, figures = read(admin)
    assert set(figures) == {'patients', 'doctors', 'appointments', 'generated_at'}
    assert set(figures['appointments']) == set(STATUSES)
    assert figures['patients'] >= 1
    assert all(isinstance(v, int) for v in figures['appointments'].values())
    stamp = datetime.datetime.fromisoformat(figures['generated_at'])
    assert stamp.utcoffset() is not None
    assert cache in ('HIT', 'MISS')


def test_second_read_is_served_from_the_cache(admin, make_user, base_url):
    make_user(base_url, 'patient')  # a write: the next read computes
    first_cache, first = read(admin)
    second_cache, second = read(admin)
    assert (first_cache, second_cache) == ('MISS', 'HIT')
    assert second == first


def test_only_admins_see_the_stats(patient, doctor, anon):
    assert patient.get('/api/admin/stats').status == 403
    assert doctor.get('/api/admin/stats').status == 403
    assert anon.get('/api/admin/stats').status == 401


def test_dashboard_page_shows_the_cached_figures(admin):
    _, figures = read(admin)
    page = admin.get('/admin')
    assert page.status == 200
    html = page.text
    assert 'Clinic figures' in html
    assert f'<dt>Patients</dt><dd>{figures["patients"]}</dd>' in html
    assert f'<dt>No-show</dt><dd>{figures["appointments"]["no_show"]}</dd>' in html


def test_a_patient_registering_drops_the_cached_figures(admin, anon):
    before = warm(admin)
    resp = anon.post('/api/register', {'email': unique_email('reg'), 'password': PASSWORD,
                                       'name': 'New Patient'})
    assert resp.status == 201
    cache, after = read(admin)
    assert cache == 'MISS'
    assert after['patients'] == before['patients'] + 1


def test_an_admin_adding_a_doctor_drops_the_cached_figures(admin):
    before = warm(admin)
    resp = admin.post('/api/doctors', {'email': unique_email('doc'), 'password': PASSWORD,
                                       'name': 'Dr New', 'specialization': 'Dermatology'})
    assert resp.status == 201
    cache, after = read(admin)
    assert cache == 'MISS'
    assert after['doctors'] == before['doctors'] + 1


def test_booking_drops_the_cached_figures(admin, patient, doctor):
    before = warm(admin)
    book_tomorrow(patient, doctor)
    cache, after = read(admin)
    assert cache == 'MISS'
    assert after['appointments']['booked'] == before['appointments']['booked'] + 1


def test_cancelling_drops_the_cached_figures(admin, patient, doctor):
    appointment = book_tomorrow(patient, doctor, '11:00')
    before = warm(admin)
    assert patient.post(f'/api/appointments/{appointment}/cancel').status == 200
    cache, after = read(admin)
    assert cache == 'MISS'
    assert after['appointments']['cancelled'] == before['appointments']['cancelled'] + 1
    assert after['appointments']['booked'] == before['appointments']['booked'] - 1


def test_completing_a_visit_drops_the_cached_figures(admin, patient, doctor):
    appointment = appointment_yesterday(patient, doctor)
    before = warm(admin)
    resp = doctor.post(f'/api/appointments/{appointment}/complete',
                       {'diagnosis': 'Cold', 'treatment': 'Rest'})
    assert resp.status == 200, resp
    cache, after = read(admin)
    assert cache == 'MISS'
    assert after['appointments']['completed'] == before['appointments']['completed'] + 1


def test_marking_a_no_show_drops_the_cached_figures(admin, patient, doctor):
    appointment = appointment_yesterday(patient, doctor)
    before = warm(admin)
    assert doctor.post(f'/api/appointments/{appointment}/no-show').status == 200
    cache, after = read(admin)
    assert cache == 'MISS'
    assert after['appointments']['no_show'] == before['appointments']['no_show'] + 1


def test_a_failed_write_keeps_the_cached_figures(admin, patient, doctor):
    appointment = book_tomorrow(patient, doctor, '12:00')
    assert patient.post(f'/api/appointments/{appointment}/cancel').status == 200
    warm(admin)
    assert patient.post(f'/api/appointments/{appointment}/cancel').status == 409
    assert read(admin)[0] == 'HIT'


def test_cached_figures_expire_after_stats_cache_seconds(settings, admin):
    srv = ServerThread(create_app(settings.with_changes(stats_cache_seconds=1))).start()
    try:
        client = Client(srv.url)
        client.opener = admin.opener  # the admin's session cookie
        stats.invalidate()
        assert read(client)[0] == 'MISS'
        assert read(client)[0] == 'HIT'
        wait_until(lambda: read(client)[0] == 'MISS', timeout=5, message='expiry')
    finally:
        srv.stop()


def test_memory_cache_forgets_a_value_when_its_time_is_up():
    now = [100.0]
    cache = MemoryCache(clock=lambda: now[0])
    cache.put('figures', 0, {'v': 1}, ttl=10)
    now[0] = 109.9
    assert cache.get('figures') == (0, {'v': 1})
    now[0] = 110.0
    assert cache.get('figures') == (0, None)


def test_memory_cache_bump_retires_the_copy_and_counts():
    cache = MemoryCache()
    generation, _ = cache.get('figures')
    cache.put('figures', generation, 'v', ttl=60)
    assert cache.bump('figures') == 1
    assert cache.bump('figures') == 2
    assert cache.get('figures') == (2, None)
    # A read that began before the bumps stores under the generation it saw.
    cache.put('figures', generation, 'computed before the write', ttl=60)
    assert cache.get('figures') == (2, None)


def test_redis_cache_keeps_values_under_its_own_prefix(redis_server):
    import redis
    cache = RedisCache(redis_server.url)
    cache.put('figures', 0, {'patients': 3}, ttl=60)
    assert cache.get('figures') == (0, {'patients': 3})
    raw = redis.Redis.from_url(redis_server.url)
    assert raw.exists('clinicdesk:cache:figures')
    assert 0 < raw.ttl('clinicdesk:cache:figures') <= 60
    assert cache.bump('figures') == 1
    assert raw.get('clinicdesk:cache:figures:generation') == b'1'
    assert cache.get('figures') == (1, None)


def test_redis_cache_down_is_a_miss_logged_once_and_stale_copies_go_when_it_is_back(
        tmp_path, caplog):
    srv = RedisServer(tmp_path).start()
    cache = RedisCache(srv.url)
    try:
        cache.put('figures', 0, {'patients': 1}, ttl=300)
        srv.stop()
        caplog.set_level(logging.WARNING, logger='clinicdesk.cache')
        for _ in range(5):
            assert cache.get('figures') == (None, None)
            cache.put('figures', None, {'patients': 2}, ttl=300)
            assert cache.bump('figures') is None  # a write during the outage: this bump is lost...
        warnings = [r for r in caplog.records if r.name == 'clinicdesk.cache']
        assert len(warnings) == 1
        assert 'cache unavailable' in warnings[0].getMessage()

        srv.start()  # same port, same (empty-persistence) server config
        # ...so it is made on the first call after the outage. Redis came
        # back empty here; make the stale copy exist again to prove it.
        import redis
        redis.Redis.from_url(srv.url).set('clinicdesk:cache:figures',
                                          '{"generation": 0, "value": {"patients": 1}}')
        wait_until(lambda: cache.get('figures') == (1, None), timeout=5, message='cache back')
    finally:
        srv.stop()


@pytest.mark.parametrize('ttl', [0])
def test_zero_stats_cache_seconds_means_always_fresh(settings, admin, ttl):
    srv = ServerThread(create_app(settings.with_changes(stats_cache_seconds=ttl))).start()
    try:
        client = Client(srv.url)
        client.opener = admin.opener  # the admin's session cookie
        stats.invalidate()
        assert [read(client)[0] for _ in range(3)] == ['MISS'] * 3
    finally:
        srv.stop()


def test_redis_cache_keeps_a_near_copy_that_another_processs_write_drops(redis_server):
    import redis
    web_one, web_two = RedisCache(redis_server.url), RedisCache(redis_server.url)
    web_two.put('figures', 0, {'patients': 1}, ttl=60)
    assert web_one.get('figures') == (0, {'patients': 1})   # read once: kept near
    raw = redis.Redis.from_url(redis_server.url)
    # Changed behind the cache's back (no bump): the near copy answers.
    raw.set('clinicdesk:cache:figures', '{"generation": 0, "value": {"patients": 99}}')
    assert web_one.get('figures') == (0, {'patients': 1})   # served without a round trip
    assert web_two.bump('figures') == 1                     # a write elsewhere drops it
    wait_until(lambda: web_one.get('figures') == (1, None), timeout=2, message='dropped')
    web_two.put('figures', 1, {'patients': 2}, ttl=60)
    assert web_one.get('figures') == (1, {'patients': 2})
    assert web_one.bump('figures') == 2
    wait_until(lambda: web_two.get('figures') == (2, None), timeout=2,
               message='bump seen elsewhere')


def test_redis_near_copy_hits_before_any_write_ever_bumped(redis_server):
    import redis
    web = RedisCache(redis_server.url)
    web.put('figures', 0, {'patients': 1}, ttl=60)
    assert web.get('figures') == (0, {'patients': 1})
    redis.Redis.from_url(redis_server.url).delete('clinicdesk:cache:figures')
    assert web.get('figures') == (0, {'patients': 1})  # no round trip: the near copy


def test_redis_near_copies_are_forgotten_when_redis_goes_away(tmp_path):
    srv = RedisServer(tmp_path).start()
    web = RedisCache(srv.url)
    try:
        web.put('figures', 0, {'patients': 1}, ttl=60)
        assert web.get('figures') == (0, {'patients': 1})
        srv.stop()
        wait_until(lambda: web.get('figures') == (None, None), timeout=2,
                   message='near copy dropped')
    finally:
        srv.stop()
