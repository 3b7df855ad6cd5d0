from datetime import timedelta

import pytest
from nicegui.testing import User

from models import CompGrant, EntitlementLoss, utcnow
from services.billing import billing, gate
from services.billing.gate import GateError
from tests.factories import make_agent, make_token, make_user
from tests.stripe_double import StripeDouble, deliver, stripe_double, wait_until_processed  # noqa: F401


def subscribe(double: StripeDouble, user, plan: str) -> str:
    billing.start_checkout(user=user, plan=plan)
    session_id = list(double.sessions)[-1]
    created, _, _ = double.complete_checkout(session_id)
    billing.fulfil_checkout(session_id)
    return created['data']['object']['id']


def refusal(user, agent) -> str:
    with pytest.raises(GateError) as error:
        gate.check_can_deploy(user=user, agent=agent)
    return error.value.code


def test_without_billing_configured_deploy_is_refused_as_not_configured():
    user = make_user()
    assert refusal(user, make_agent(user)) == 'BILLING_NOT_CONFIGURED'


def test_without_a_subscription_deploy_is_refused(stripe_double):
    user = make_user()
    assert refusal(user, make_agent(user)) == 'NO_ACTIVE_SUBSCRIPTION'


def test_an_active_subscription_allows_deploy(stripe_double):
    user = make_user()
    subscribe(stripe_double, user, 'starter')
    gate.check_can_deploy(user=user, agent=make_agent(user))


def test_the_plans_agent_limit_is_enforced(stripe_double):
    user = make_user()
    subscribe(stripe_double, user, 'starter')
    make_agent(user, name='running one', status='running')
    assert refusal(user, make_agent(user, name='second')) == 'AGENT_LIMIT_REACHED'


def test_stopped_and_failed_agents_do_not_count(stripe_double):
    user = make_user()
    subscribe(stripe_double, user, 'starter')
    make_agent(user, name='stopped', status='stopped')
    make_agent(user, name='failed', status='failed')
    gate.check_can_deploy(user=user, agent=make_agent(user, name='new'))


def test_canceled_subscription_refuses_deploy(stripe_double):
    user = make_user()
    subscription_id = subscribe(stripe_double, user, 'pro')
    stripe_double.set_subscription_status(subscription_id, 'canceled')
    billing.sync_subscription(subscription_id)
    assert refusal(user, make_agent(user)) == 'NO_ACTIVE_SUBSCRIPTION'


def test_a_complimentary_grant_entitles_without_stripe():
    user = make_user()
    billing.grant_complimentary(user=user, plan='starter', granted_by='ops@example.com')
    gate.check_can_deploy(user=user, agent=make_agent(user))
    grant = CompGrant.get()
    assert (grant.granted_by, grant.plan) == ('ops@example.com', 'starter')


def test_an_expired_complimentary_grant_does_not_entitle(stripe_double):
    user = make_user()
    billing.grant_complimentary(user=user, plan='pro', until=utcnow() - timedelta(days=1), granted_by='ops')
    assert refusal(user, make_agent(user)) == 'NO_ACTIVE_SUBSCRIPTION'


async def test_api_deploy_without_entitlement_is_refused_with_a_settings_link(stripe_double, user: User):
    account = make_user()
    agent = make_agent(account)
    response = await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=make_token(account))
    assert response.status_code == 403
    assert response.json()['error']['code'] == 'NO_ACTIVE_SUBSCRIPTION'
    assert '/settings' in response.json()['error']['message']


async def test_api_deploy_over_the_limit_is_refused(stripe_double, user: User):
    account = make_user()
    subscribe(stripe_double, account, 'starter')
    make_agent(account, name='running', status='running')
    agent = make_agent(account, name='extra')
    response = await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=make_token(account))
    assert response.status_code == 403
    assert response.json()['error']['code'] == 'AGENT_LIMIT_REACHED'


def test_losing_the_subscription_queues_every_running_agent_for_stopping(stripe_double):
    user = make_user()
    subscription_id = subscribe(stripe_double, user, 'pro')
    running = [make_agent(user, name=f'agent {n}', status='running') for n in range(2)]
    stripe_double.set_subscription_status(subscription_id, 'canceled')
    billing.sync_subscription(subscription_id)
    assert {loss.agent_id for loss in EntitlementLoss.select()} == {agent.id for agent in running}
    assert 'subscription ended' in EntitlementLoss.get().reason


def test_downgrading_below_the_running_count_stops_the_newest_extras(stripe_double):
    user = make_user()
    subscription_id = subscribe(stripe_double, user, 'pro')
    oldest, middle, newest = [make_agent(user, name=f'agent {n}', status='running') for n in range(3)]
    stripe_double.change_price(subscription_id, 'starter')
    billing.sync_subscription(subscription_id)
    assert {loss.agent_id for loss in EntitlementLoss.select()} == {middle.id, newest.id}


def test_enforcement_queues_an_agent_only_once(stripe_double):
    user = make_user()
    subscription_id = subscribe(stripe_double, user, 'starter')
    make_agent(user, status='running')
    stripe_double.set_subscription_status(subscription_id, 'canceled')
    billing.sync_subscription(subscription_id)
    billing.enforce_all_entitlements()
    assert EntitlementLoss.select().count() == 1


def test_grace_running_out_is_enforced_by_the_periodic_check(stripe_double):
    user = make_user()
    subscription_id = subscribe(stripe_double, user, 'starter')
    agent = make_agent(user, status='running')
    stripe_double.set_subscription_status(subscription_id, 'past_due')
    billing.sync_subscription(subscription_id)
    assert billing.enforce_all_entitlements() == 0
    from models import Subscription
    Subscription.update(past_due_since=utcnow() - timedelta(days=4)).execute()
    assert billing.enforce_all_entitlements() == 1
    assert EntitlementLoss.get().agent_id == agent.id
