"""Per-agent billing end to end: the agent's own Checkout, paid, queues its provisioning exactly once."""
import pytest
from nicegui.testing import User

from models import ProvisioningJob
from services.billing import billing, gate
from services.billing.gate import GateError
from services.platform.settings import Settings, configure
from tests.factories import make_agent, make_user
from tests.provisioning_support import eventually, github  # noqa: F401
from tests.stripe_double import StripeDouble, deliver, stripe_double, wait_until_processed  # noqa: F401


@pytest.fixture
def per_agent_mode(stripe_double, github, monkeypatch):  # noqa: ARG001  (both doubles configured first)
    monkeypatch.setenv('BILLING_MODE', 'per_agent')
    configure(Settings())


def pay_for(double: StripeDouble, user, agent) -> tuple[str, list[dict]]:
    billing.start_checkout(user=user, agent_id=agent.id)
    session_id = list(double.sessions)[-1]
    return session_id, double.complete_checkout(session_id)


def test_checkout_for_an_agent_carries_its_id_in_both_metadata(per_agent_mode, stripe_double):
    user = make_user()
    agent = make_agent(user)
    billing.start_checkout(user=user, agent_id=agent.id)
    params = stripe_double.calls('POST', '/v1/checkout/sessions')[-1]
    assert params['metadata']['agent_id'] == str(agent.id)
    assert params['subscription_data']['metadata']['agent_id'] == str(agent.id)
    assert params['line_items'][0]['price'] == 'price_agent'
    assert params['cancel_url'].endswith(f'/agents/{agent.id}')


def test_checkout_for_someone_elses_agent_is_refused(per_agent_mode):
    agent = make_agent(make_user())
    with pytest.raises(billing.BillingError) as refusal:
        billing.start_checkout(user=make_user(), agent_id=agent.id)
    assert refusal.value.field == 'agent_id'


def test_a_paid_agent_passes_the_gate_and_an_unpaid_one_does_not(per_agent_mode, stripe_double):
    user = make_user()
    paid, unpaid = make_agent(user, name='paid'), make_agent(user, name='unpaid')
    session_id, _ = pay_for(stripe_double, user, paid)
    billing.fulfil_checkout(session_id)
    gate.check_can_deploy(user=user, agent=paid)
    with pytest.raises(GateError):
        gate.check_can_deploy(user=user, agent=unpaid)


async def test_webhook_and_return_page_queue_the_agent_once(per_agent_mode, stripe_double, github, user: User):
    account = make_user()
    agent = make_agent(account)
    session_id, (_, completed, _) = pay_for(stripe_double, account, agent)
    response = await deliver(user.http_client, stripe_double, completed)
    assert response.status_code == 200
    await wait_until_processed(completed['id'])
    result = billing.fulfil_checkout(session_id, expected_user=account)  # the return page, after the webhook
    assert result.agent_id == agent.id and result.deploy_error is None
    jobs = list(ProvisioningJob.select())
    assert len(jobs) == 1 and jobs[0].idempotency_key.endswith(session_id)
    await eventually(lambda: github.dispatches, 'the dispatch')
    assert len(github.dispatches) == 1


async def test_a_checkout_without_a_good_subscription_queues_nothing(per_agent_mode, stripe_double, github,
                                                                    user: User):
    account = make_user()
    agent = make_agent(account)
    billing.start_checkout(user=account, agent_id=agent.id)
    session_id = list(stripe_double.sessions)[-1]
    _, completed, _ = stripe_double.complete_checkout(session_id, status='incomplete')
    await deliver(user.http_client, stripe_double, completed)
    assert await wait_until_processed(completed['id']) == 'processed'
    assert not ProvisioningJob.select().exists() and not github.dispatches
    with pytest.raises(GateError) as refusal:
        gate.check_can_deploy(user=account, agent=agent)
    assert refusal.value.code == 'NO_ACTIVE_SUBSCRIPTION'


def test_deleting_a_paid_agent_cancels_its_subscription(per_agent_mode, stripe_double):
    from models import Agent, Subscription
    user = make_user()
    agent = make_agent(user)
    session_id, _ = pay_for(stripe_double, user, agent)
    billing.fulfil_checkout(session_id)
    Agent.update(status='deleted').where(Agent.id == agent.id).execute()
    assert billing.cancel_subscriptions_of_deleted_agents() == 1
    subscription = Subscription.get()
    assert subscription.status == 'canceled' == stripe_double.subscriptions[subscription.subscription_id]['status']
    assert billing.cancel_subscriptions_of_deleted_agents() == 0
