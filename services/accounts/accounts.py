"""Accounts: sign-up, password login with throttling, and API tokens (shown once, stored as a hash)."""
import hashlib
import re
import secrets

from nicegui import run

from models import ApiToken, User, utcnow, write_transaction

from ..platform import events
from ..platform.errors import DomainError
from ..platform.inputs import encodable_problem, text_problem
from . import login_limits, passwords

EMAIL_PATTERN = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s]+$')
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = 'ah_'


class AccountError(DomainError):
    pass


def email_taken() -> AccountError:
    return AccountError('EMAIL_TAKEN', 'An account with this email already exists. Log in instead.', field='email')


def validate_email(email: str) -> str | None:
    """The problem with `email` as a sentence, or None; pages and services share these checks."""
    if not EMAIL_PATTERN.match(email.strip()) or text_problem(email):
        return 'Enter an email address like name@example.com.'
    return None


def validate_password(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f'Use at least {MIN_PASSWORD_LENGTH} characters.'
    return encodable_problem(password)


def check_signup(*, email: str, password: str, address: str | None = None) -> str:
    """The normalised email if this sign-up may go ahead; every cheap refusal comes before the slow hash."""
    email = email.strip().lower()
    for field, problem in (('email', validate_email(email)), ('password', validate_password(password))):
        if problem:
            raise AccountError('INVALID_INPUT', problem, field=field)
    if User.select().where(User.email == email).exists():
        raise email_taken()
    if address is not None:
        wait = login_limits.signups_per_address.seconds_until_allowed(address)
        if wait:
            raise AccountError('TOO_MANY_ATTEMPTS', f'Too many sign-ups from your address. Try again in {wait} '
                               'seconds.', retry_after=wait)
        login_limits.signups_per_address.record(address)
    return email


def insert_user(*, email: str, password_hash: str, is_admin: bool = False) -> User:
    """Store a checked sign-up; the first account on an empty database becomes the admin."""
    with write_transaction():
        if User.select().where(User.email == email).exists():  # taken while the password was hashed
            raise email_taken()
        first = not User.select().exists()
        return User.create(email=email, password_hash=password_hash, is_admin=is_admin or first)


def create_user(*, email: str, password: str, is_admin: bool = False) -> User:
    """Create an account from the command line or a script (no throttle; hashes on the calling thread)."""
    email = check_signup(email=email, password=password)
    return insert_user(email=email, password_hash=passwords.hash_now(password), is_admin=is_admin)


async def sign_up(*, email: str, password: str, address: str) -> User:
    """Create an account from the sign-up page: throttled per address, hashed on the password pool."""
    email = await run.io_bound(check_signup, email=email, password=password, address=address)
    password_hash = await passwords.hash_password(password)
    return await run.io_bound(insert_user, email=email, password_hash=password_hash)


def login_candidate(*, email: str, address: str) -> User | None:
    """The account behind `email` (None if there is none), unless this account and address must wait."""
    email = email.strip().lower()
    wait = max(login_limits.per_account_and_address.seconds_until_allowed(_pair(email, address)),
               login_limits.per_address.seconds_until_allowed(address))
    if wait:
        raise AccountError('TOO_MANY_ATTEMPTS', f'Too many failed logins. Try again in {wait} seconds.',
                           retry_after=wait)
    return User.get_or_none(User.email == email)


def finish_login(*, email: str, address: str, user: User | None, matched: bool) -> User:
    """Record the outcome of a password check; the user, or AccountError. Unknown and known emails fail alike."""
    email = email.strip().lower()
    if user is None or not matched:
        login_limits.per_account_and_address.record_failure(_pair(email, address))
        login_limits.per_address.record(address)
        raise AccountError('INVALID_CREDENTIALS', 'Email or password is wrong.')
    if user.is_disabled:
        raise AccountError('ACCOUNT_DISABLED', 'This account is disabled. Contact the operator of this site.')
    login_limits.per_account_and_address.clear(_pair(email, address))
    return user


def refuse_unstorable_credentials(*, email: str, password: str) -> None:
    """NUL or a lone surrogate in a login is an INVALID_INPUT naming the field, never a database error."""
    for field, problem in (('email', text_problem(email)), ('password', encodable_problem(password))):
        if problem:
            raise AccountError('INVALID_INPUT', problem, field=field)


def _pair(email: str, address: str) -> tuple[str, str]:
    """Failed logins count per account *and* address: a guesser elsewhere never slows the owner down."""
    return email, address


def authenticate(*, email: str, password: str, address: str) -> User:
    """The user for these credentials, or AccountError (scripts and tests; pages and the API use `log_in`)."""
    refuse_unstorable_credentials(email=email, password=password)
    user = login_candidate(email=email, address=address)
    matched = passwords.matches_now(user.password_hash if user else None, password)
    return finish_login(email=email, address=address, user=user, matched=matched)


async def log_in(*, email: str, password: str, address: str) -> User:
    """The user for these credentials, or AccountError; the password check runs on the password pool, and an
    unknown email is checked against a dummy hash, so its answer takes as long as a known one's."""
    refuse_unstorable_credentials(email=email, password=password)
    user = await run.io_bound(login_candidate, email=email, address=address)
    matched = await passwords.matches(user.password_hash if user else None, password)
    user = await run.io_bound(finish_login, email=email, address=address, user=user, matched=matched)
    if passwords.needs_rehash(user.password_hash):
        password_hash = await passwords.hash_password(password)
        await run.io_bound(_store_hash, user.id, password_hash)
    return user


def _store_hash(user_id: int, password_hash: str) -> None:
    User.update(password_hash=password_hash).where(User.id == user_id).execute()


def enable_user(email: str) -> User:
    """Enable a disabled account again (the command line: no lockout needs SQL)."""
    user = find_user(email)
    User.update(is_disabled=False).where(User.id == user.id).execute()
    events.account_updated(user.id)
    return User.get_by_id(user.id)


def set_admin(email: str, *, is_admin: bool) -> User:
    """Grant or revoke admin rights; a revoked admin's open admin pages close."""
    user = find_user(email)
    User.update(is_admin=is_admin).where(User.id == user.id).execute()
    events.account_updated(user.id)
    return User.get_by_id(user.id)


def active_user(user_id: int | None) -> User | None:
    """The session's user if the account still exists and is enabled."""
    if user_id is None:
        return None
    return User.get_or_none((User.id == user_id) & (User.is_disabled == False))  # noqa: E712


def find_user(email: str) -> User:
    user = User.get_or_none(User.email == email.strip().lower())
    if user is None:
        raise AccountError('NOT_FOUND', f'No account with the email {email}.')
    return user


def create_token(*, user: User, name: str = '') -> str:
    """A new API token; returns the token itself, which is never stored and cannot be shown again."""
    name = name.strip() or 'API token'
    if len(name) > 64:
        raise AccountError('INVALID_INPUT', 'Use at most 64 characters for the token name.', field='name')
    if problem := text_problem(name):
        raise AccountError('INVALID_INPUT', problem, field='name')
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.create(user=user, name=name, token_hash=_digest(token), prefix=token[:10])
    return token


def user_for_token(token: str) -> User | None:
    """The enabled owner of an unrevoked token, or None."""
    row = (ApiToken.select(ApiToken, User).join(User)
           .where((ApiToken.token_hash == _digest(token)) & ApiToken.revoked_at.is_null()
                  & (User.is_disabled == False))  # noqa: E712
           .first())
    if row is None:
        return None
    ApiToken.update(last_used_at=utcnow()).where(ApiToken.id == row.id).execute()
    return row.user


def list_tokens(*, user: User) -> list[ApiToken]:
    return list(ApiToken.select().where((ApiToken.user == user) & ApiToken.revoked_at.is_null())
                .order_by(ApiToken.created_at.desc()))


def revoke_token(*, user: User, token_id: int) -> None:
    updated = (ApiToken.update(revoked_at=utcnow())
               .where((ApiToken.id == token_id) & (ApiToken.user == user) & ApiToken.revoked_at.is_null())
               .execute())
    if not updated:
        raise AccountError('NOT_FOUND', 'No such token.')


def _digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash suffices; argon2 would only slow every API call.
    return hashlib.sha256(token.encode()).hexdigest()
