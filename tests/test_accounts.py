"""Sign-up and login: throttled without locking owners out, cheap refusals before slow hashes, and hashing on a pool
of its own so that nothing else waits for it."""
import asyncio
import threading

import pytest
from nicegui.testing import User

from models import User as Account
from services.accounts import accounts, login_limits, passwords
from services.accounts.accounts import AccountError
from tests.factories import PASSWORD, make_token, make_user


class WatchedHasher:
    """argon2's hasher, noting every hash and verification with the name of the thread it ran on; `gate`, when set,
    holds each hash until it lets one through."""

    def __init__(self, real) -> None:
        self.real = real
        self.calls: list[tuple[str, str]] = []
        self.gate: threading.Semaphore | None = None

    def hash(self, password: str) -> str:
        self.calls.append(('hash', threading.current_thread().name))
        if self.gate is not None:
            self.gate.acquire(timeout=30)
        return self.real.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.calls.append(('verify', threading.current_thread().name))
        return self.real.verify(password_hash, password)

    def check_needs_rehash(self, password_hash: str) -> bool:
        return self.real.check_needs_rehash(password_hash)


@pytest.fixture
def hasher(monkeypatch) -> WatchedHasher:
    passwords.dummy_hash()  # made once per process, before any test watches
    watched = WatchedHasher(passwords.hasher)
    monkeypatch.setattr(passwords, 'hasher', watched)
    return watched


def fail_logins(email: str, address: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(AccountError):
            accounts.authenticate(email=email, password='wrong guess', address=address)


def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out_from_another():
    owner = make_user('owner@example.com')
    fail_logins('owner@example.com', '6.6.6.6', 10)
    assert accounts.authenticate(email='owner@example.com', password=PASSWORD, address='1.2.3.4').id == owner.id


def test_wrong_passwords_slow_down_that_account_from_that_address():
    make_user('owner@example.com')
    fail_logins('owner@example.com', '6.6.6.6', 5)
    with pytest.raises(AccountError) as refused:
        accounts.authenticate(email='owner@example.com', password=PASSWORD, address='6.6.6.6')
    assert refused.value.code == 'TOO_MANY_ATTEMPTS' and refused.value.retry_after > 0


def test_each_further_failure_waits_twice_as_long_up_to_a_limit():
    delay = login_limits.GrowingDelay(free=3, first=1, longest=60, forget_after=3600)
    waits = []
    for failure in range(10):
        delay.record_failure('pair', now=failure * 100)
        waits.append(delay.seconds_until_allowed('pair', now=failure * 100))
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_a_wait_ends_and_success_forgets_the_failures():
    delay = login_limits.GrowingDelay(free=1, first=10, longest=60, forget_after=3600)
    delay.record_failure('pair', now=0)
    assert delay.seconds_until_allowed('pair', now=5) == 5
    assert delay.seconds_until_allowed('pair', now=10) == 0
    delay.clear('pair')
    delay.record_failure('pair', now=20)
    assert delay.seconds_until_allowed('pair', now=20) == 10


async def test_an_unknown_email_costs_a_password_verification_on_the_password_pool(user: User, hasher):
    with pytest.raises(AccountError) as refused:
        await accounts.log_in(email='nobody@example.com', password=PASSWORD, address='1.2.3.4')
    assert refused.value.code == 'INVALID_CREDENTIALS'
    assert [kind for kind, _ in hasher.calls] == ['verify']
    assert hasher.calls[0][1].startswith('password-hash')


async def test_a_known_email_is_verified_on_the_password_pool(user: User, hasher):
    make_user('me@example.com')
    hasher.calls.clear()
    assert (await accounts.log_in(email='me@example.com', password=PASSWORD, address='1.2.3.4')).email == \
        'me@example.com'
    assert [thread.startswith('password-hash') for _, thread in hasher.calls] == [True]


async def test_signing_up_with_a_taken_email_hashes_nothing(user: User, hasher):
    make_user('taken@example.com')
    hasher.calls.clear()
    with pytest.raises(AccountError) as refused:
        await accounts.sign_up(email='Taken@example.com', password=PASSWORD, address='1.2.3.4')
    assert refused.value.code == 'EMAIL_TAKEN'
    assert hasher.calls == []


async def test_sign_up_hashes_on_the_password_pool(user: User, hasher):
    await accounts.sign_up(email='new@example.com', password=PASSWORD, address='1.2.3.4')
    assert [(kind, thread.startswith('password-hash')) for kind, thread in hasher.calls] == [('hash', True)]


async def test_sign_ups_are_throttled_per_address(user: User):
    for number in range(login_limits.signups_per_address.limit):
        await accounts.sign_up(email=f'new{number}@example.com', password=PASSWORD, address='5.5.5.5')
    with pytest.raises(AccountError) as refused:
        await accounts.sign_up(email='one-more@example.com', password=PASSWORD, address='5.5.5.5')
    assert refused.value.code == 'TOO_MANY_ATTEMPTS' and refused.value.retry_after > 0
    assert not Account.select().where(Account.email == 'one-more@example.com').exists()
    await accounts.sign_up(email='elsewhere@example.com', password=PASSWORD, address='7.7.7.7')


async def test_api_calls_do_not_wait_for_a_burst_of_password_hashes(user: User, hasher):
    headers = make_token(make_user())
    hasher.gate = threading.Semaphore(0)
    pending = {asyncio.ensure_future(accounts.sign_up(email=f'burst{number}@example.com', password=PASSWORD,
                                                      address=f'10.0.0.{number}')) for number in range(12)}
    try:
        while len(hasher.calls) < passwords.HASHING_THREADS:  # every hashing thread is busy
            await asyncio.sleep(0.01)
        response = await asyncio.wait_for(user.http_client.get('/api/agents', headers=headers), timeout=15)
        assert response.status_code == 200
    finally:
        while pending:  # one sign-up at a time, so that their writes do not meet
            hasher.gate.release()
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    assert Account.select().where(Account.email.startswith('burst')).count() == 12
