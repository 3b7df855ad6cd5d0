import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
from nicegui import app, ui
from nicegui.testing import User

from models import User as Account
from tests.factories import PASSWORD, make_user
from tests.pages_support import log_in


@asynccontextmanager
async def browser(cookies: dict):
    """Another browser against the same app, holding `cookies`."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test', cookies=cookies) as client:
        yield client


@pytest.fixture
def https_public_url(monkeypatch) -> None:
    monkeypatch.setenv('PUBLIC_URL', 'https://agents.example.com')


async def sign_up(user: User, email: str, password: str = PASSWORD) -> None:
    await user.open('/signup')
    user.find(marker='email').type(email)
    user.find(marker='password').type(password)
    user.find(kind=ui.button, content='Sign up').click()


async def test_signing_up_logs_in_and_lands_on_the_agents_page(user: User):
    await sign_up(user, 'new@example.com')
    await user.should_see('No agents yet', retries=50)
    await user.should_see('new@example.com', retries=50)
    assert Account.get(Account.email == 'new@example.com').password_hash.startswith('$argon2')


async def test_first_account_becomes_admin_and_later_ones_do_not():
    first, second = make_user(), make_user()
    assert first.is_admin and not second.is_admin


async def test_signup_with_short_password_shows_the_problem_next_to_the_field(user: User):
    await sign_up(user, 'short@example.com', 'abc')
    await user.should_see('Use at least 8 characters.', retries=50)
    assert not Account.select().where(Account.email == 'short@example.com').exists()


async def test_signup_with_a_taken_email_says_so(user: User):
    make_user('taken@example.com')
    await sign_up(user, 'taken@example.com')
    await user.should_see('An account with this email already exists', retries=50)


async def test_anonymous_visitor_of_a_page_is_sent_to_login(user: User):
    for path in ('/', '/agents/new', '/agents/1', '/settings'):
        response = await user.http_client.get(path, follow_redirects=False)
        assert 300 <= response.status_code < 400
        assert response.headers['location'].startswith('/login')


async def test_login_with_the_right_password_opens_the_agents_page(user: User):
    make_user('me@example.com')
    await user.open('/login')
    user.find(marker='email').type('me@example.com')
    user.find(marker='password').type(PASSWORD).trigger('keydown.enter')
    await user.should_see('No agents yet', retries=50)


async def test_login_with_a_wrong_password_says_so_and_stays(user: User):
    make_user('me@example.com')
    await user.open('/login')
    user.find(marker='email').type('me@example.com')
    user.find(marker='password').type('wrong password')
    user.find(kind=ui.button, content='Log in').click()
    await user.should_see('Email or password is wrong.', retries=50)
    await user.should_not_see('No agents yet')


async def test_logout_by_post_from_this_site_ends_the_session(user: User):
    await sign_up(user, 'bye@example.com')
    await user.should_see('No agents yet', retries=50)
    response = await user.http_client.post('/logout', headers={'Origin': 'http://test'}, follow_redirects=False)
    assert response.headers['location'] == '/login'
    response = await user.http_client.get('/', follow_redirects=False)
    assert response.headers['location'].startswith('/login')


async def test_a_get_of_logout_does_not_log_out(user: User):
    await log_in(user, 'stay@example.com')
    response = await user.http_client.get('/logout', follow_redirects=False)
    assert response.status_code == 200
    assert (await user.http_client.get('/', follow_redirects=False)).status_code == 200


async def test_logout_started_by_another_site_is_refused(user: User):
    await log_in(user, 'stay@example.com')
    response = await user.http_client.post('/logout', headers={'Origin': 'https://evil.example'},
                                           follow_redirects=False)
    assert response.status_code == 403
    assert (await user.http_client.get('/', follow_redirects=False)).status_code == 200


async def test_a_session_cookie_planted_before_login_is_not_logged_in_after_it(user: User):
    make_user('victim@example.com')
    await user.open('/login')
    planted = dict(user.http_client.cookies)
    user.find(marker='email').type('victim@example.com')
    user.find(marker='password').type(PASSWORD).trigger('keydown.enter')
    await user.should_see(marker='signed-in-user', retries=50)
    async with browser(planted) as attacker:
        response = await attacker.get('/', follow_redirects=False)
        assert response.headers['location'].startswith('/login')
        assert (await attacker.get('/api/agents')).status_code == 401
    assert (await user.http_client.get('/', follow_redirects=False)).status_code == 200


async def test_the_session_cookie_of_a_logged_out_browser_is_not_logged_in(user: User):
    await log_in(user, 'leaving@example.com')
    before = dict(user.http_client.cookies)
    await user.http_client.post('/logout', headers={'Origin': 'http://test'})
    assert dict(user.http_client.cookies) != before
    async with browser(before) as copy:
        assert (await copy.get('/api/agents')).status_code == 401


async def test_a_login_ticket_works_only_in_the_browser_that_logged_in(user: User):
    make_user('me@example.com')
    await user.open('/login')
    tickets = []
    user.navigate.to = lambda target, new_tab=False: tickets.append(target)  # keep the ticket from being redeemed
    user.find(marker='email').type('me@example.com')
    user.find(marker='password').type(PASSWORD).trigger('keydown.enter')
    for _ in range(100):
        if tickets:
            break
        await asyncio.sleep(0.05)
    async with browser({}) as stranger:
        await stranger.get('/login')
        response = await stranger.get(tickets[0], follow_redirects=False)
        assert response.headers['location'] == '/login'
        assert (await stranger.get('/api/agents')).status_code == 401


async def test_the_session_cookie_is_secure_when_the_public_url_is_https(https_public_url, user: User):
    response = await user.http_client.get('/login')
    assert 'secure' in response.headers['set-cookie'].lower()


async def test_the_session_cookie_is_not_secure_over_plain_http(user: User):
    response = await user.http_client.get('/login')
    assert 'secure' not in response.headers['set-cookie'].lower()


async def test_disabled_account_cannot_log_in(user: User):
    account = make_user('off@example.com')
    Account.update(is_disabled=True).where(Account.id == account.id).execute()
    await user.open('/login')
    user.find(marker='email').type('off@example.com')
    user.find(marker='password').type(PASSWORD)
    user.find(kind=ui.button, content='Log in').click()
    await user.should_see('This account is disabled', retries=50)
