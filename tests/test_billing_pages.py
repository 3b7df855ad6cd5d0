import asyncio

import pytest
from nicegui.testing import User
from nicegui.testing.user_navigate import UserNavigate

from models import Subscription
from services.billing import billing
from services.platform.settings import Settings, configure
from tests.factories import subscribe
from tests.pages_support import log_in
from tests.stripe_double import stripe_double  # noqa: F401


@pytest.fixture
def navigations(monkeypatch) -> list[str]:
    """External addresses pages send the browser to (Stripe); the simulated user can only open our own pages."""
    targets: list[str] = []
    open_internal = UserNavigate.to

    def to(self, target, new_tab: bool = False) -> None:
        if isinstance(target, str) and target.startswith('http'):
            targets.append(target)
        else:
            open_internal(self, target, new_tab)

    monkeypatch.setattr(UserNavigate, 'to', to)
    return targets


async def navigated(targets: list[str]) -> str:
    for _ in range(250):
        if targets:
            return targets[0]
        await asyncio.sleep(0.02)
    raise AssertionError('the page never sent the browser elsewhere')


async def test_settings_shows_plan_cards_with_price_and_agent_limit(stripe_double, user: User):
    await log_in(user)
    await user.open('/settings')
    await user.should_see('No active subscription')
    await user.should_see(marker='plan-starter')
    await user.should_see('$199/month')
    await user.should_see('10 agents')
    await user.should_not_see(marker='manage-billing')


async def test_subscribe_opens_stripe_checkout_for_that_plan(stripe_double, user: User, navigations):
    account = await log_in(user)
    await user.open('/settings')
    user.find(marker='subscribe-business').click()
    await user.should_see('Opening Stripe')
    await navigated(navigations)
    assert navigations and navigations[0].startswith(stripe_double.base_url)
    params = stripe_double.calls('POST', '/v1/checkout/sessions')[-1]
    assert params['client_reference_id'] == str(account.id)
    assert params['line_items'][0]['price'] == 'price_business'


async def test_return_page_shows_the_plan_before_any_webhook(stripe_double, user: User):
    account = await log_in(user)
    billing.start_checkout(user=account, plan='pro')
    session_id = list(stripe_double.sessions)[-1]
    stripe_double.complete_checkout(session_id)
    await user.open(f'/billing/return?session_id={session_id}')
    await user.should_see('You are on the pro plan', retries=100)
    assert Subscription.get().status == 'active'
    await user.open('/settings')
    await user.should_see('Pro plan · active')
    await user.should_see(marker='manage-billing')


async def test_return_page_for_an_unpaid_session_says_payment_is_pending(stripe_double, user: User):
    account = await log_in(user)
    billing.start_checkout(user=account, plan='pro')
    await user.open(f'/billing/return?session_id={list(stripe_double.sessions)[-1]}')
    await user.should_see(marker='checkout-pending', retries=100)


async def test_settings_warns_about_a_past_due_payment(stripe_double, user: User):
    account = await log_in(user)
    billing.start_checkout(user=account, plan='starter')
    session_id = list(stripe_double.sessions)[-1]
    created, _, _ = stripe_double.complete_checkout(session_id)
    billing.fulfil_checkout(session_id)
    stripe_double.payment_failed(created['data']['object']['id'])
    billing.sync_subscription(created['data']['object']['id'])
    await user.open('/settings')
    await user.should_see(marker='past-due')
    await user.should_see('Your last payment failed')


async def test_manage_billing_opens_the_customer_portal(stripe_double, user: User, navigations):
    account = await log_in(user)
    subscribe(stripe_double, account, 'starter')
    await user.open('/settings')
    user.find(marker='manage-billing').click()
    await navigated(navigations)
    assert navigations and '/p/session/' in navigations[0]


async def test_per_agent_mode_wizard_ends_in_checkout_for_that_agent(stripe_double, monkeypatch, user: User,
                                                                     navigations):
    monkeypatch.setenv('BILLING_MODE', 'per_agent')
    configure(Settings())
    await log_in(user)
    await user.open('/agents/new')
    user.find(marker='name').type('Paid bot')
    user.find(marker='next-1').click()
    user.find(marker='next-2').click()
    user.find(marker='next-3').click()
    await user.should_see(marker='pay-hint')
    user.find(marker='create').click()
    await navigated(navigations)
    params = stripe_double.calls('POST', '/v1/checkout/sessions')[-1]
    assert navigations and navigations[0].startswith(stripe_double.base_url)
    assert params['line_items'][0]['price'] == 'price_agent'
    assert params['metadata']['agent_id'] == params['subscription_data']['metadata']['agent_id']


async def test_settings_shows_a_complimentary_plan_without_an_end(stripe_double, user: User):
    account = await log_in(user)
    billing.grant_complimentary(user=account, plan='pro', granted_by='ops')
    await user.open('/settings')
    await user.should_see('Pro plan · complimentary, no end date · 0 of 3 agents in use')


async def test_a_subscriber_changes_plan_through_the_portal_not_a_second_checkout(stripe_double, user: User):
    account = await log_in(user)
    subscribe(stripe_double, account, 'starter')
    await user.open('/settings')
    await user.should_see(marker='change-to-pro')
    await user.should_not_see(marker='subscribe-pro')


async def test_per_agent_deploy_refusal_offers_to_pay_for_the_agent(stripe_double, monkeypatch, user: User,
                                                                    navigations):
    from tests.factories import make_agent
    monkeypatch.setenv('BILLING_MODE', 'per_agent')
    configure(Settings())
    agent = make_agent(await log_in(user))
    await user.open(f'/agents/{agent.id}')
    user.find(marker='deploy').click()
    await user.should_see('This agent is not paid for yet', retries=50)
    user.find(marker='pay-for-agent').click()
    assert (await navigated(navigations)).startswith(stripe_double.base_url)
    assert stripe_double.calls('POST', '/v1/checkout/sessions')[-1]['metadata']['agent_id'] == str(agent.id)
