"""Accounts: sign-up, password login with throttling, and API tokens (shown once, stored as a hash)."""
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models import ApiToken, User, db, utcnow

from . import login_limits
from .errors import DomainError
from .inputs import encodable_problem, text_problem

EMAIL_PATTERN = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s]+$')
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = 'ah_'
hasher = PasswordHasher()


class AccountError(DomainError):
    pass


def validate_email(email: str) -> str | None:
    """The problem with `email` as a sentence, or None; pages and services share these checks."""
    if not EMAIL_PATTERN.match(email.strip()) or text_problem(email):
        return 'Enter an email address like name@example.com.'
    return None


def validate_password(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f'Use at least {MIN_PASSWORD_LENGTH} characters.'
    return encodable_problem(password)


def create_user(*, email: str, password: str, is_admin: bool = False) -> User:
    """Create an account; the first account on an empty database becomes the admin."""
    email = email.strip().lower()
    for field, problem in (('email', validate_email(email)), ('password', validate_password(password))):
        if problem:
            raise AccountError('INVALID_INPUT', problem, field=field)
    password_hash = hasher.hash(password)  # slow on purpose: keep it out of the transaction
    with db.atomic():
        if User.select().where(User.email == email).exists():
            raise AccountError('EMAIL_TAKEN', 'An account with this email already exists. Log in instead.',
                               field='email')
        first = not User.select().exists()
        return User.create(email=email, password_hash=password_hash, is_admin=is_admin or first)


def authenticate(*, email: str, password: str, address: str) -> User:
    """The user for these credentials, or AccountError; repeated failures lock the account and the address."""
    email = email.strip().lower()
    for field, problem in (('email', text_problem(email)), ('password', encodable_problem(password))):
        if problem:
            raise AccountError('INVALID_INPUT', problem, field=field)
    wait = max(login_limits.per_account.seconds_until_allowed(email),
               login_limits.per_address.seconds_until_allowed(address))
    if wait:
        raise AccountError('TOO_MANY_ATTEMPTS', f'Too many failed logins. Try again in {wait} seconds.',
                           retry_after=wait)
    user = User.get_or_none(User.email == email)
    if user is None or not _password_matches(user, password):
        login_limits.per_account.record_failure(email)
        login_limits.per_address.record_failure(address)
        raise AccountError('INVALID_CREDENTIALS', 'Email or password is wrong.')
    if user.is_disabled:
        raise AccountError('ACCOUNT_DISABLED', 'This account is disabled. Contact the operator of this site.')
    login_limits.per_account.clear(email)
    return user


def _password_matches(user: User, password: str) -> bool:
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        User.update(password_hash=hasher.hash(password)).where(User.id == user.id).execute()
    return True


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
