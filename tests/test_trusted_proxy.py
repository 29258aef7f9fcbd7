"""TRUSTED_PROXY (SPEC §10): behind the proxy it names, the audit trail and
throttling see the forwarded client address; without it a client's
X-Forwarded-For is ignored. The servers are built as `run.py web` builds
them (app.web.server), so Waitress's own trusted-proxy handling is what
runs."""
import pytest

from app.db import database
from app.models import AuditEvent
from app.settings import ConfigError, load
from app.web.server import server_options
from tests.conftest import PASSWORD, base_env
from tests.throttle_site import make_site, new_account, throttle_addresses, \
    try_login  # noqa: F401  (fixtures)

CLIENT = '203.0.113.9'


def audited_addresses(user, action):
    """The addresses of `user`'s logins, or of failed logins to their account."""
    about = (AuditEvent.actor == user.id if action == 'login'
             else AuditEvent.target == f'user:{user.id}')
    with database.connection_context():
        return [e.ip for e in AuditEvent.select().where(AuditEvent.action == action, about)]


def test_behind_the_trusted_proxy_the_forwarded_address_is_audited_and_throttled(make_site):
    site = make_site(trusted_proxy='127.0.0.1')
    user = new_account()
    assert try_login(site.url, user.email, 'wrong-one-1', CLIENT).status == 401
    assert throttle_addresses() == {CLIENT}
    assert try_login(site.url, user.email, PASSWORD, CLIENT).status == 200
    assert audited_addresses(user, 'login') == [CLIENT]
    assert audited_addresses(user, 'login.failed') == [CLIENT]


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(make_site):
    site = make_site(trusted_proxy=None)
    user = new_account()
    assert try_login(site.url, user.email, 'wrong-one-1', CLIENT).status == 401
    assert throttle_addresses() == {'127.0.0.1'}
    assert try_login(site.url, user.email, PASSWORD, CLIENT).status == 200
    assert audited_addresses(user, 'login') == ['127.0.0.1']


def test_a_proxy_other_than_the_trusted_one_cannot_choose_the_address(make_site):
    site = make_site(trusted_proxy='192.0.2.1')
    user = new_account()
    assert try_login(site.url, user.email, PASSWORD, CLIENT).status == 200
    assert audited_addresses(user, 'login') == ['127.0.0.1']


def test_trusted_proxy_setting_is_validated_and_reaches_waitress(tmp_path):
    with pytest.raises(ConfigError, match='TRUSTED_PROXY'):
        load(base_env(tmp_path, TRUSTED_PROXY='proxy.example'))
    unset = server_options(load(base_env(tmp_path)))
    assert 'trusted_proxy' not in unset and unset['clear_untrusted_proxy_headers'] is True
    options = server_options(load(base_env(tmp_path, TRUSTED_PROXY='10.0.0.2')))
    assert options['trusted_proxy'] == '10.0.0.2'
    assert options['trusted_proxy_headers'] == {'x-forwarded-for', 'x-forwarded-proto'}
