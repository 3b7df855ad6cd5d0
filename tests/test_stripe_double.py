"""The Stripe double is as strict as Stripe where AgentHost could go wrong, and its own bugs fail the test."""
import httpx
import pytest

from services.billing import plans, stripe_api
from tests.stripe_double import API_KEY, PRICES, StripeDouble, stripe_double  # noqa: F401

AUTH = {'Authorization': f'Bearer {API_KEY}'}


def client(double: StripeDouble) -> httpx.Client:
    return httpx.Client(base_url=double.base_url, headers=AUTH)


def subscribe(double: StripeDouble, customer: str, plan: str, status: str = 'active') -> str:
    with double._lock:
        return double._create_subscription(customer, PRICES[plan], {}, status)['id']


def listed(double: StripeDouble, **params) -> list[str]:
    with client(double) as http:
        response = http.get('/v1/subscriptions', params=params)
    assert response.status_code == 200, response.text
    return [subscription['id'] for subscription in response.json()['data']]


def test_a_json_body_is_refused_as_stripe_refuses_it(stripe_double):
    with client(stripe_double) as http:
        response = http.post('/v1/checkout/sessions', json={'mode': 'subscription'})
    assert response.status_code == 400
    assert response.json()['error']['type'] == 'invalid_request_error'
    assert 'application/x-www-form-urlencoded' in response.json()['error']['message']
    assert response.headers['Stripe-Should-Retry'] == 'false'
    assert not stripe_double.sessions


def test_the_apps_requests_are_form_encoded(stripe_double):
    url = stripe_api.call(lambda stripe: stripe.v1.checkout.sessions.create(
        {'mode': 'subscription', 'line_items': [{'price': PRICES['pro'], 'quantity': 1}],
         'success_url': 'http://localhost/ok', 'cancel_url': 'http://localhost/no'}))['url']
    assert url.startswith(stripe_double.base_url)


@pytest.mark.parametrize(('status', 'retry'), [(500, 'true'), (503, 'true'), (409, 'true'), (400, 'false'),
                                               (402, 'false')])
def test_failures_say_whether_a_retry_can_help(stripe_double, status, retry):
    stripe_double.fail_next(1, status=status)
    with client(stripe_double) as http:
        response = http.get('/v1/account')
    assert response.status_code == status
    assert response.headers['Stripe-Should-Retry'] == retry
    assert set(response.json()['error']) >= {'type', 'message'}


def test_subscription_lists_honour_customer_status_price_and_limit(stripe_double):
    active = subscribe(stripe_double, 'cus_a', 'pro')
    canceled = subscribe(stripe_double, 'cus_a', 'starter', status='canceled')
    past_due = subscribe(stripe_double, 'cus_a', 'starter', status='past_due')
    other = subscribe(stripe_double, 'cus_b', 'pro')
    assert listed(stripe_double, customer='cus_a') == [past_due, active]  # newest first, canceled left out
    assert listed(stripe_double, customer='cus_a', status='all') == [past_due, canceled, active]
    assert listed(stripe_double, customer='cus_a', status='ended') == [canceled]
    assert listed(stripe_double, status='active') == [other, active]
    assert listed(stripe_double, price=PRICES['starter'], status='all') == [past_due, canceled]
    assert listed(stripe_double, status='all', limit=2) == [other, past_due]
    assert listed(stripe_double, status='all', limit=2, starting_after=past_due) == [canceled, active]
    with client(stripe_double) as http:
        assert http.get('/v1/subscriptions', params={'limit': 101}).status_code == 400
        assert http.get('/v1/subscriptions', params={'status': 'gone'}).json()['error']['param'] == 'status'


def test_each_plan_has_its_own_price_with_its_amount(stripe_double):
    for plan in plans.plans():
        price = stripe_api.call(lambda stripe, p=plan: stripe.v1.prices.retrieve(p.price_id))
        assert (price['id'], price['unit_amount'], price['recurring']['interval']) == \
            (plan.price_id, plan.monthly_usd * 100, 'month')
    assert len({stripe_double.prices[price_id]['product'] for price_id in PRICES.values()}) == len(PRICES)


def test_an_exception_inside_the_double_is_kept_and_fails_the_test(stripe_double, monkeypatch):
    monkeypatch.setattr(stripe_double, 'sessions', None)  # the double's own bug
    with client(stripe_double) as http:
        response = http.post('/v1/checkout/sessions', data={'line_items[0][price]': PRICES['pro']})
    assert response.status_code == 500 and response.json()['error']['type'] == 'api_error'
    assert 'TypeError' in stripe_double.errors[0]
    with pytest.raises(pytest.fail.Exception, match='the Stripe test double failed'):
        stripe_double.check()
    stripe_double.errors.clear()


def test_an_unknown_path_answers_like_stripe(stripe_double):
    with client(stripe_double) as http:
        response = http.get('/v1/nothing_here')
    assert response.status_code == 404
    assert response.json()['error']['message'].startswith('Unrecognized request URL (GET: /v1/nothing_here)')
