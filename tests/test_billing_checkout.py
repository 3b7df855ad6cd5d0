import pytest
from nicegui.testing import User

from models import StripeCustomer, Subscription
from services.billing import billing, entitlements
from services.platform.errors import DomainError
from tests.factories import make_agent, make_token, make_user, subscribe
from tests.stripe_double import PRICES, StripeDouble, stripe_double  # noqa: F401


def checkout_session(double: StripeDouble) -> dict:
    return double.calls('POST', '/v1/checkout/sessions')[-1]



def test_checkout_creates_a_subscription_session_for_the_plan(stripe_double):
    user = make_user()
    url = billing.start_checkout(user=user, plan='pro')
    params = checkout_session(stripe_double)
    assert url.startswith(stripe_double.base_url)
    assert params['mode'] == 'subscription'
    assert params['client_reference_id'] == str(user.id)
    assert params['line_items'] == [{'price': PRICES['pro'], 'quantity': '1'}]
    assert params['success_url'].endswith('/billing/return?session_id={CHECKOUT_SESSION_ID}')
    assert params['cancel_url'].endswith('/settings')
    assert params['customer_email'] == user.email
    assert params['subscription_data']['metadata']['user_id'] == str(user.id)


def test_checkout_reuses_the_existing_stripe_customer(stripe_double):
    user = make_user()
    subscribe(stripe_double, user, 'starter')
    customer_id = StripeCustomer.get(StripeCustomer.user == user).customer_id
    subscription_id = Subscription.get().subscription_id
    stripe_double.set_subscription_status(subscription_id, 'canceled')
    billing.sync_subscription(subscription_id)
    billing.start_checkout(user=user, plan='business')
    params = checkout_session(stripe_double)
    assert params['customer'] == customer_id
    assert 'customer_email' not in params


def test_checkout_for_an_unknown_plan_names_the_field(stripe_double):
    with pytest.raises(DomainError) as refusal:
        billing.start_checkout(user=make_user(), plan='platinum')
    assert refusal.value.field == 'plan'


def test_completing_checkout_makes_the_user_entitled(stripe_double):
    user = make_user()
    subscribe(stripe_double, user, 'pro')
    entitlement = entitlements.entitlement_for(user)
    assert (entitlement.plan, entitlement.status, entitlement.agents_allowed) == ('pro', 'active', 3)
    assert entitlement.period_end is not None


def test_fulfilling_twice_changes_nothing_the_second_time(stripe_double):
    user = make_user()
    session_id = subscribe(stripe_double, user)
    billing.fulfil_checkout(session_id)
    assert Subscription.select().count() == 1
    assert StripeCustomer.select().count() == 1


def test_an_unpaid_session_is_reported_as_not_complete(stripe_double):
    user = make_user()
    billing.start_checkout(user=user, plan='pro')
    result = billing.fulfil_checkout(list(stripe_double.sessions)[-1])
    assert not result.complete
    assert not entitlements.entitlement_for(user).is_entitled


def test_someone_elses_session_is_refused(stripe_double):
    owner, stranger = make_user(), make_user()
    billing.start_checkout(user=owner, plan='pro')
    session_id = list(stripe_double.sessions)[-1]
    stripe_double.complete_checkout(session_id)
    with pytest.raises(DomainError) as refusal:
        billing.fulfil_checkout(session_id, expected_user=stranger)
    assert refusal.value.code == 'NOT_FOUND'


def test_portal_opens_for_the_users_customer(stripe_double):
    user = make_user()
    subscribe(stripe_double, user)
    url = billing.open_portal(user=user)
    params = stripe_double.calls('POST', '/v1/billing_portal/sessions')[-1]
    assert url.startswith(stripe_double.base_url)
    assert params['customer'] == StripeCustomer.get(StripeCustomer.user == user).customer_id
    assert params['return_url'].endswith('/settings')


def test_portal_without_a_customer_says_to_subscribe_first(stripe_double):
    with pytest.raises(DomainError) as refusal:
        billing.open_portal(user=make_user())
    assert refusal.value.code == 'NO_BILLING_ACCOUNT'


def test_checkout_when_stripe_refuses_the_key_names_the_setting(stripe_double, monkeypatch):
    from services.platform.settings import Settings, configure
    monkeypatch.setenv('STRIPE_SECRET_KEY', 'sk_test_wrong')
    configure(Settings())
    with pytest.raises(DomainError) as refusal:
        billing.start_checkout(user=make_user(), plan='pro')
    assert 'STRIPE_SECRET_KEY' in refusal.value.message


async def test_api_checkout_returns_the_stripe_url(stripe_double, user: User):
    headers = make_token(make_user())
    response = await user.http_client.post('/api/billing/checkout', json={'plan': 'starter'}, headers=headers)
    assert response.status_code == 200
    assert response.json()['url'].startswith(stripe_double.base_url)


async def test_api_billing_shows_plan_usage_and_period(stripe_double, user: User):
    account = make_user()
    subscribe(stripe_double, account, 'pro')
    make_agent(account, status='running')
    response = await user.http_client.get('/api/billing', headers=make_token(account))
    body = response.json()
    assert (body['plan'], body['status'], body['agents_used'], body['agents_allowed']) == ('pro', 'active', 1, 3)
    assert body['cancel_at_period_end'] is False
    assert body['period_end'].endswith('Z')


async def test_api_billing_without_subscription_is_empty(stripe_double, user: User):
    response = await user.http_client.get('/api/billing', headers=make_token(make_user()))
    assert response.json() == {'plan': None, 'status': None, 'period_end': None, 'cancel_at_period_end': False,
                               'agents_used': 0, 'agents_allowed': 0}


async def test_api_portal_returns_the_portal_url(stripe_double, user: User):
    account = make_user()
    subscribe(stripe_double, account)
    response = await user.http_client.post('/api/billing/portal', headers=make_token(account))
    assert response.json()['url'].startswith(stripe_double.base_url)


def test_a_second_plan_is_refused_so_nobody_pays_twice(stripe_double):
    user = make_user()
    subscribe(stripe_double, user, 'starter')
    with pytest.raises(DomainError) as refusal:
        billing.start_checkout(user=user, plan='pro')
    assert refusal.value.code == 'ALREADY_SUBSCRIBED' and 'Manage billing' in refusal.value.message
    assert len(stripe_double.calls('POST', '/v1/checkout/sessions')) == 1


def test_a_new_plan_is_offered_again_after_the_old_one_ended(stripe_double):
    user = make_user()
    billing.start_checkout(user=user, plan='starter')
    session_id = list(stripe_double.sessions)[-1]
    created, _, _ = stripe_double.complete_checkout(session_id)
    billing.fulfil_checkout(session_id)
    stripe_double.set_subscription_status(created['data']['object']['id'], 'canceled')
    billing.sync_subscription(created['data']['object']['id'])
    assert billing.start_checkout(user=user, plan='pro').startswith(stripe_double.base_url)
