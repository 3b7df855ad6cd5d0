import pytest
from nicegui.testing import User

from models import Agent, ApiToken
from services.accounts import accounts
from tests.factories import PASSWORD, make_agent, make_token, make_user
from tests.pages_support import log_in

SAME_ORIGIN = {'Origin': 'http://test'}


async def test_api_without_credentials_answers_401(user: User):
    response = await user.http_client.get('/api/agents')
    assert response.status_code == 401
    assert response.json()['error']['code'] == 'UNAUTHENTICATED'


async def test_api_with_an_unknown_token_answers_401(user: User):
    response = await user.http_client.get('/api/agents', headers={'Authorization': 'Bearer ah_nope'})
    assert response.status_code == 401


async def test_api_with_a_non_bearer_scheme_answers_401(user: User):
    response = await user.http_client.get('/api/agents', headers={'Authorization': 'Basic dXNlcjpwYXNz'})
    assert response.status_code == 401


async def test_revoked_token_answers_401(user: User):
    owner = make_user()
    headers = make_token(owner)
    token = ApiToken.get(ApiToken.user == owner)
    accounts.revoke_token(user=owner, token_id=token.id)
    response = await user.http_client.get('/api/agents', headers=headers)
    assert response.status_code == 401


async def test_tokens_are_stored_only_as_a_hash():
    owner = make_user()
    token = accounts.create_token(user=owner, name='ci')
    stored = ApiToken.get(ApiToken.user == owner)
    assert token not in (stored.token_hash, stored.prefix)
    assert accounts.user_for_token(token).id == owner.id


async def test_password_exchange_returns_a_working_token(user: User):
    make_user('script@example.com')
    response = await user.http_client.post('/api/auth/token',
                                           json={'email': 'script@example.com', 'password': PASSWORD})
    assert response.status_code == 201
    headers = {'Authorization': f'Bearer {response.json()["token"]}'}
    assert (await user.http_client.get('/api/agents', headers=headers)).status_code == 200


async def test_wrong_password_exchange_answers_401(user: User):
    make_user('script@example.com')
    response = await user.http_client.post('/api/auth/token',
                                           json={'email': 'script@example.com', 'password': 'nope nope'})
    assert response.status_code == 401
    assert response.json()['error']['code'] == 'INVALID_CREDENTIALS'


async def test_repeated_failures_for_one_account_answer_429_with_retry_after(user: User):
    make_user('target@example.com')
    for _ in range(5):
        await user.http_client.post('/api/auth/token', json={'email': 'target@example.com', 'password': 'guess'})
    response = await user.http_client.post('/api/auth/token',
                                           json={'email': 'target@example.com', 'password': PASSWORD})
    assert response.status_code == 429
    assert int(response.headers['Retry-After']) > 0
    assert response.json()['error']['code'] == 'TOO_MANY_ATTEMPTS'


async def test_repeated_failures_from_one_address_lock_out_every_account(user: User):
    make_user('victim@example.com')
    for number in range(20):
        await user.http_client.post('/api/auth/token', json={'email': f'guess{number}@example.com', 'password': 'x'})
    response = await user.http_client.post('/api/auth/token',
                                           json={'email': 'victim@example.com', 'password': PASSWORD})
    assert response.status_code == 429


def test_address_window_ends_when_the_window_passes():
    from services.accounts.login_limits import SlidingWindow
    window = SlidingWindow(limit=2, window=60)
    window.record('a', now=0)
    window.record('a', now=1)
    assert window.seconds_until_allowed('a', now=2) == 58
    assert window.seconds_until_allowed('a', now=61) == 0


async def test_token_calls_and_webhooks_create_no_browser_session(user: User):
    from nicegui import app
    headers = make_token(make_user())
    sessions_before = len(app.storage._users)
    for _ in range(5):
        assert (await user.http_client.get('/api/agents', headers=headers)).status_code == 200
        assert (await user.http_client.get('/healthz')).status_code == 200
        await user.http_client.post('/api/webhooks/stripe', content=b'{}')
    assert len(app.storage._users) == sessions_before


async def test_an_empty_authorization_header_answers_401(user: User):
    response = await user.http_client.get('/api/agents', headers={'Authorization': ''})
    assert response.status_code == 401
    assert response.json()['error']['code'] == 'UNAUTHENTICATED'


async def test_login_never_redirects_to_another_site(user: User):
    from nicegui import ui
    make_user('me@example.com')
    await user.open('/login?redirect_to=/%5Cevil.example/login')
    user.find(marker='email').type('me@example.com')
    user.find(marker='password').type(PASSWORD)
    user.find(kind=ui.button, content='Log in').click()
    await user.should_see('No agents yet', retries=50)


async def test_the_api_accepts_a_browser_session(user: User):
    account = await log_in(user)
    make_agent(account, name='Mine')
    response = await user.http_client.get('/api/agents')
    assert response.status_code == 200
    assert [agent['name'] for agent in response.json()['agents']] == ['Mine']
    response = await user.http_client.post('/api/agents', json={'name': 'From the page'}, headers=SAME_ORIGIN)
    assert response.status_code == 201


@pytest.mark.parametrize('headers', [{'Origin': 'https://evil.example'}, {'Sec-Fetch-Site': 'cross-site'}, {}],
                         ids=['from another site', 'from a cross-site fetch', 'without origin or fetch metadata'])
async def test_a_session_write_not_shown_to_come_from_this_site_is_refused(user: User, headers: dict):
    await log_in(user)
    response = await user.http_client.post('/api/agents', json={'name': 'Forged'}, headers=headers)
    assert response.status_code == 403
    assert response.json()['error']['code'] == 'CROSS_SITE_REQUEST'
    assert not Agent.select().exists()


async def test_a_session_write_marked_same_origin_by_the_browser_is_accepted(user: User):
    await log_in(user)
    response = await user.http_client.post('/api/agents', json={'name': 'Mine'},
                                           headers={'Sec-Fetch-Site': 'same-origin'})
    assert response.status_code == 201


async def test_a_session_write_from_the_public_url_is_accepted(user: User):
    await log_in(user)
    from services.platform.settings import get_settings
    response = await user.http_client.post('/api/agents', json={'name': 'Mine'},
                                           headers={'Origin': get_settings().public_url})
    assert response.status_code == 201


async def test_session_writes_with_form_or_text_bodies_are_refused(user: User):
    await log_in(user)
    for content_type in ('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'):
        response = await user.http_client.post('/api/agents', content=b'{"name": "Forged"}',
                                               headers={**SAME_ORIGIN, 'Content-Type': content_type})
        assert response.status_code == 415, content_type
        assert response.json()['error']['code'] == 'UNSUPPORTED_MEDIA_TYPE'
    assert not Agent.select().exists()


async def test_session_deletes_from_another_site_are_refused(user: User):
    account = await log_in(user)
    agent = make_agent(account)
    response = await user.http_client.delete(f'/api/agents/{agent.id}', headers={'Origin': 'https://evil.example'})
    assert response.status_code == 403
    assert Agent.get_by_id(agent.id).status == 'draft'


async def test_token_writes_need_no_origin(user: User):
    headers = make_token(make_user())
    response = await user.http_client.post('/api/agents', json={'name': 'Scripted'}, headers=headers)
    assert response.status_code == 201
