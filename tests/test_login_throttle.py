"""Login throttling that cannot be turned against users (SPEC §10), over
real HTTP: a counted, growing delay per (account, address) and per address,
never a lock for the right password from an address that has not failed."""
import datetime
from concurrent.futures import ThreadPoolExecutor

from app.db import database
from app.models import AuditEvent
from app.services.login_throttle import FREE_TRIES
from tests.client import Client
from tests.conftest import PASSWORD
from tests.test_pages import get_page
from tests.throttle_site import checked_wrong_passwords, new_account, site, make_site, \
    try_login  # noqa: F401  (fixtures)

ATTACKER = '203.0.113.66'
OWNER = '198.51.100.7'
LIMIT = FREE_TRIES['account']


def test_forty_parallel_wrong_guesses_get_at_most_the_limit_checked(site):
    victim = new_account()
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(
            lambda n: try_login(site.url, victim.email, f'guess-{n:04d}', ATTACKER).status,
            range(40)))
    assert checked_wrong_passwords(victim) == LIMIT
    assert answers.count(401) == LIMIT and answers.count(429) == 40 - LIMIT


def test_right_password_from_another_address_works_after_an_attackers_failures(site):
    victim = new_account()
    for n in range(12):
        try_login(site.url, victim.email, f'guess-{n}', ATTACKER)
    assert try_login(site.url, victim.email, PASSWORD, ATTACKER).status == 429
    assert try_login(site.url, victim.email, PASSWORD, OWNER).status == 200


def test_owner_logs_in_after_one_typo_from_their_own_address(site):
    owner = new_account()
    assert try_login(site.url, owner.email, 'typo-' + PASSWORD, OWNER).status == 401
    assert try_login(site.url, owner.email, PASSWORD, OWNER).status == 200


def test_delay_grows_with_each_failure_and_says_when_to_come_back(site):
    user = new_account()
    for n in range(LIMIT):
        assert try_login(site.url, user.email, f'guess-{n}', ATTACKER).status == 401
    waits, words = [], []
    for _ in range(3):
        refused = try_login(site.url, user.email, 'guess-x', ATTACKER)
        assert refused.status == 429 and 'too many failed logins' in refused.json['error']
        waits.append(int(refused.headers['Retry-After']))
        words.append(refused.json['error'].split('try again in ')[1])
        site.clock.advance(waits[-1])
        assert try_login(site.url, user.email, 'guess-y', ATTACKER).status == 401
    assert waits == [30, 60, 120]
    assert words == ['30 seconds', 'a minute', '2 minutes']
    # The form says so too, with the same header, and when by the clinic's clock.
    page = Client(site.url).post('/login', data=f'email={user.email}&password=x',
                                 headers={'X-Forwarded-For': ATTACKER}, csrf=False)
    assert page.status == 429 and 'Too many failed logins' in page.text
    back = site.clock.now() + datetime.timedelta(seconds=240)
    assert f'try again in 4 minutes (at {back:%H:%M})' in page.text
    assert page.headers['Retry-After'] == '240'


def test_the_right_password_hands_the_address_its_try_back(site):
    """A clinic behind one address logs in all morning without building a delay."""
    user = new_account()
    for _ in range(FREE_TRIES['address'] + 5):
        assert try_login(site.url, user.email, PASSWORD, OWNER).status == 200


def test_many_accounts_guessed_from_one_address_delay_that_address(site):
    users = [new_account() for _ in range(FREE_TRIES['address'] // 4 + 1)]
    for user in users:
        for n in range(4):
            try_login(site.url, user.email, f'guess-{n}', ATTACKER)
    fresh = new_account()
    assert try_login(site.url, fresh.email, PASSWORD, ATTACKER).status == 429
    assert try_login(site.url, fresh.email, PASSWORD, OWNER).status == 200


def delay(site, user):
    for n in range(LIMIT):
        try_login(site.url, user.email, f'guess-{n}', OWNER)
    assert try_login(site.url, user.email, PASSWORD, OWNER).status == 429


def logged_in(site, role='admin'):
    account = new_account(role)
    client = Client(site.url)
    client.csrf_token = try_login(site.url, account.email, PASSWORD,
                                  client=client).json['csrf_token']
    return account, client


def test_admin_sees_the_delay_on_the_patient_page_and_clears_it(site):
    admin, browser = logged_in(site)
    patient = new_account()
    delay(site, patient)
    page = get_page(browser, f'/patients/{patient.id}')
    assert 'login delayed until 2032-05-04 09:00' in page.html and 'Clear lock' in page.buttons
    form = page.hidden(f'/patients/{patient.id}/login-lock')
    resp = browser.post(f'/patients/{patient.id}/login-lock',
                        data='csrf_token=' + form['csrf_token'], csrf=False)
    assert resp.status == 303
    assert 'Clear lock' not in get_page(browser, f'/patients/{patient.id}').buttons
    assert try_login(site.url, patient.email, PASSWORD, OWNER).status == 200
    with database.connection_context():
        entry = AuditEvent.get(AuditEvent.action == 'login.unlock')
    assert (entry.actor_id, entry.target, entry.subject_patient_id) == (
        admin.id, f'user:{patient.id}', patient.id)


def test_admin_clears_a_staff_members_delay_from_their_page(site):
    _, browser = logged_in(site)
    colleague = new_account('admin')
    delay(site, colleague)
    page = get_page(browser, f'/admin/staff/{colleague.id}')
    assert 'login delayed until' in page.html
    form = page.hidden(f'/admin/staff/{colleague.id}/login-lock')
    resp = browser.post(f'/admin/staff/{colleague.id}/login-lock',
                        data='csrf_token=' + form['csrf_token'], csrf=False)
    assert resp.status == 303
    assert try_login(site.url, colleague.email, PASSWORD, OWNER).status == 200


def test_clearing_a_lock_through_the_api_is_for_admins_only(site):
    patient = new_account()
    delay(site, patient)
    _, other = logged_in(site, role='patient')
    assert other.delete(f'/api/admin/login-locks/{patient.id}').status == 403
    assert Client(site.url).delete(f'/api/admin/login-locks/{patient.id}').status == 401
    assert try_login(site.url, patient.email, PASSWORD, OWNER).status == 429

    _, admin = logged_in(site)
    assert admin.delete('/api/admin/login-locks/999999').status == 404
    assert admin.delete(f'/api/admin/login-locks/{patient.id}', csrf=False).status == 403
    resp = admin.delete(f'/api/admin/login-locks/{patient.id}')
    assert resp.status == 200 and resp.json == {'status': 'cleared', 'user_id': patient.id}
    assert try_login(site.url, patient.email, PASSWORD, OWNER).status == 200


def test_reception_sees_no_lock_on_the_patient_page(site):
    patient = new_account()
    delay(site, patient)
    _, reception = logged_in(site, role='reception')
    page = get_page(reception, f'/patients/{patient.id}')
    assert 'login delayed' not in page.html and 'Clear lock' not in page.buttons
    assert reception.post(f'/patients/{patient.id}/login-lock').status == 403


def test_failures_are_forgotten_a_day_after_the_last_one(site):
    user = new_account()
    delay(site, user)
    site.clock.advance(24 * 3600 + 60)
    assert try_login(site.url, user.email, 'typo-again', OWNER).status == 401
    assert try_login(site.url, user.email, PASSWORD, OWNER).status == 200


def test_housekeeping_forgets_keys_quiet_for_a_day(own_db):
    from app.models import LoginThrottle
    from app.services import housekeeping
    now = datetime.datetime(2031, 5, 6, 12, 0, tzinfo=datetime.timezone.utc)
    for account, quiet in (('old@example.test', datetime.timedelta(days=3)),
                           ('recent@example.test', datetime.timedelta(hours=1))):
        LoginThrottle.create(account=account, address='192.0.2.7', tries=5,
                             last_try_at=now.replace(tzinfo=None) - quiet)
    assert housekeeping.prune(now)['throttle_keys'] == 1
    assert [row.account for row in LoginThrottle.select()] == ['recent@example.test']
