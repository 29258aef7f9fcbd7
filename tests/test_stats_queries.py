"""A cached read costs no database round trip once the session is remembered
(SPEC §7 P4): the admin's stats, polled by a dashboard and measured under
load, come from the session cache and the stats cache alone, with two-factor
sign-in required of staff too."""
import pyotp
from playhouse.test_utils import count_queries

from tests.conftest import create_user

READS = 20


def cached_reads_cost(client):
    """Queries made by READS stats reads after the session and figures are
    cached (within the session cache's recheck time)."""
    warm = client.get('/api/admin/stats')
    assert warm.status == 200, warm
    assert client.get('/api/admin/stats').headers['X-Cache'] == 'HIT'
    with count_queries() as counter:
        for _ in range(READS):
            resp = client.get('/api/admin/stats')
            assert resp.status == 200 and resp.headers['X-Cache'] == 'HIT', resp
    return counter.count


def test_a_cached_stats_read_makes_no_query(admin):
    assert cached_reads_cost(admin) == 0


def test_required_two_factor_is_checked_without_a_query_per_request(required_2fa_url):
    admin = create_user(required_2fa_url, 'admin')
    assert admin.get('/api/admin/stats').status == 403  # enrol first
    secret = admin.post('/api/me/2fa').json['secret']
    confirmed = admin.post('/api/me/2fa/confirm', {'code': pyotp.TOTP(secret).now()})
    assert confirmed.status == 200, confirmed
    assert cached_reads_cost(admin) == 0
