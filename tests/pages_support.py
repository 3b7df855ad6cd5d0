"""Signing a simulated browser in, for page tests."""
from nicegui.testing import User

from models import User as Account
from tests.factories import PASSWORD, make_user


async def log_in(user: User, email: str = 'pages@example.com') -> Account:
    account = make_user(email)
    await user.open('/login')
    user.find(marker='email').type(email)
    user.find(marker='password').type(PASSWORD).trigger('keydown.enter')
    await user.should_see(marker='signed-in-user', retries=50)
    return account


async def log_in_as_admin(user: User) -> Account:
    make_user('first-is-admin@example.com')  # the first account is the admin; log_in makes the second
    account = await log_in(user, 'admin@example.com')
    account.is_admin = True
    account.save()
    return account
