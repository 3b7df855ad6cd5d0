import pytest
from nicegui import ui
from nicegui.testing import User

from models import ApiToken
from services.accounts import accounts
from tests.factories import make_agent, make_user
from tests.pages_support import log_in


@pytest.fixture
def billing_configured(monkeypatch):
    for name, value in (('STRIPE_SECRET_KEY', 'sk_test_x'), ('STRIPE_PRICE_STARTER', 'price_s'),
                        ('STRIPE_PRICE_PRO', 'price_p'), ('STRIPE_PRICE_BUSINESS', 'price_b')):
        monkeypatch.setenv(name, value)


async def test_agents_page_lists_agents_with_status_badges(user: User):
    account = await log_in(user)
    make_agent(account, name='Support bot')
    make_agent(account, name='Sales bot', status='running')
    make_agent(make_user(), name='Not mine')
    await user.open('/')
    await user.should_see('Support bot')
    await user.should_see('Sales bot')
    await user.should_see(marker='status-draft')
    await user.should_see(marker='status-running')
    await user.should_not_see('Not mine')


async def test_new_agent_button_opens_the_wizard(user: User):
    await log_in(user)
    user.find(marker='new-agent').click()
    await user.should_see(marker='next-1')


async def test_frame_shows_the_product_the_user_and_logout(user: User):
    await log_in(user, 'frame@example.com')
    await user.should_see('AgentHost')
    await user.should_see('frame@example.com')
    await user.should_see('Log out')


async def test_agent_page_shows_the_configuration(user: User):
    account = await log_in(user)
    agent = make_agent(account, description='Answers tickets', system_prompt='Be kind.', region='hel1')
    await user.open(f'/agents/{agent.id}')
    await user.should_see('Support bot')
    await user.should_see('Answers tickets')
    await user.should_see('Be kind.')
    await user.should_see('hel1')
    await user.should_see(marker='status-draft')
    await user.should_see(marker='deploy')


async def test_another_users_agent_page_says_not_found(user: User):
    await log_in(user)
    agent = make_agent(make_user(), name='Secret bot')
    await user.open(f'/agents/{agent.id}')
    await user.should_see(marker='not-found')
    await user.should_not_see('Secret bot')


async def test_deploy_without_billing_says_billing_is_not_set_up(user: User):
    agent = make_agent(await log_in(user))
    await user.open(f'/agents/{agent.id}')
    user.find(marker='deploy').click()
    await user.should_see('Billing is not set up yet', retries=50)
    await user.should_not_see(marker='go-to-settings')


async def test_deploy_without_subscription_shows_the_reason_and_a_settings_button(billing_configured, user: User):
    agent = make_agent(await log_in(user))
    await user.open(f'/agents/{agent.id}')
    user.find(marker='deploy').click()
    await user.should_see('Deploying needs an active subscription', retries=50)
    user.find(marker='go-to-settings').click()
    await user.should_see('API tokens')


async def test_delete_asks_and_then_removes_the_agent(user: User):
    agent = make_agent(await log_in(user))
    await user.open(f'/agents/{agent.id}')
    user.find(marker='delete').click()
    user.find(marker='confirm-delete').click()
    await user.should_see('No agents yet', retries=50)


async def test_settings_creates_a_token_shown_once_that_works(user: User):
    account = await log_in(user)
    await user.open('/settings')
    user.find(marker='token-name').type('ci')
    user.find(marker='create-token').click()
    await user.should_see(marker='new-token', retries=50)
    token = next(iter(user.find(marker='new-token').elements)).value
    assert accounts.user_for_token(token).id == account.id
    await user.open('/settings')
    await user.should_not_see(marker='new-token')
    await user.should_see('ci')


async def test_settings_revokes_a_token(user: User):
    account = await log_in(user)
    accounts.create_token(user=account, name='old')
    token = ApiToken.get(ApiToken.user == account)
    await user.open('/settings')
    user.find(marker=f'revoke-{token.id}').click()
    await user.should_see(marker='no-tokens', retries=50)
    assert ApiToken.get_by_id(token.id).revoked_at is not None


async def test_settings_says_billing_is_not_set_up(user: User):
    await log_in(user)
    await user.open('/settings')
    await user.should_see('the operator must connect Stripe')
    assert user.find(kind=ui.button, content='Create token').elements
