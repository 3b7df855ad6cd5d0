"""Password hashing, on a small thread pool of its own.

Argon2 is slow on purpose (tens of milliseconds of CPU and memory per hash). Run on the shared I/O pool that serves
every page and API call, a burst of sign-ups or logins would make everything else wait behind it; here a burst
only queues behind other password checks.
"""
import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHING_THREADS = 2
hasher = PasswordHasher()
pool = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix='password-hash')


@functools.cache
def dummy_hash() -> str:
    """A hash no password matches cheaply: an unknown email costs a verification as long as a known one."""
    return hasher.hash('no account has this password; it only makes unknown emails cost the same')


def hash_now(password: str) -> str:
    return hasher.hash(password)


def matches_now(password_hash: str | None, password: str) -> bool:
    """Whether `password` fits `password_hash`; with no hash (an unknown email) it verifies the dummy and says no."""
    try:
        hasher.verify(password_hash or dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(pool, hash_now, password)


async def matches(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(pool, matches_now, password_hash, password)
