import asyncio
import json
import time
from datetime import timedelta

import pytest
from nicegui.testing import User

from models import Subscription, WebhookDelivery, WebhookEvent, utcnow
from services import billing, entitlements, stripe_webhooks
from tests.factories import make_user
from tests.stripe_double import StripeDouble, deliver, stripe_double, wait_until_processed  # noqa: F401


def paid_checkout(double: StripeDouble, user, plan: str = 'pro') -> list[dict]:
    """The user pays on Stripe; returns Stripe's events (created, checkout completed, invoice paid)."""
    billing.start_checkout(user=user, plan=plan)
    return double.complete_checkout(list(double.sessions)[-1])


async def test_checkout_completed_event_makes_the_user_entitled(stripe_double, user: User):
    account = make_user()
    _, completed, _ = paid_checkout(stripe_double, account)
    response = await deliver(user.http_client, stripe_double, completed)
    assert response.status_code == 200
    assert await wait_until_processed(completed['id']) == 'processed'
    assert entitlements.entitlement_for(account).plan == 'pro'


async def test_bad_signature_answers_400_and_stores_nothing(stripe_double, user: User):
    event = stripe_double.event('customer.subscription.updated', {'id': 'sub_x'})
    response = await deliver(user.http_client, stripe_double, event, secret='whsec_wrong')
    assert response.status_code == 400
    assert response.json()['error']['code'] == 'BAD_SIGNATURE'
    assert not WebhookEvent.select().exists() and not WebhookDelivery.select().exists()


async def test_stale_signature_answers_400_and_stores_nothing(stripe_double, user: User):
    event = stripe_double.event('customer.subscription.updated', {'id': 'sub_x'})
    response = await deliver(user.http_client, stripe_double, event, timestamp=int(time.time()) - 400)
    assert response.status_code == 400
    assert not WebhookEvent.select().exists()


async def test_missing_signature_answers_400(stripe_double, user: User):
    response = await user.http_client.post('/api/webhooks/stripe', content=b'{"id": "evt_1"}')
    assert response.status_code == 400
    assert not WebhookEvent.select().exists()


async def test_webhook_without_a_secret_answers_503(user: User):
    response = await user.http_client.post('/api/webhooks/stripe', content=b'{}',
                                           headers={'Stripe-Signature': 't=1,v1=00'})
    assert response.status_code == 503
    assert response.json()['error']['code'] == 'WEBHOOK_NOT_CONFIGURED'


async def test_unknown_event_type_answers_200_and_is_ignored(stripe_double, user: User):
    event = stripe_double.event('customer.tax_id.created', {'id': 'txi_1'})
    response = await deliver(user.http_client, stripe_double, event)
    assert response.status_code == 200
    assert await wait_until_processed(event['id']) == 'ignored'


async def test_duplicate_event_is_ignored(stripe_double, user: User):
    account = make_user()
    _, completed, _ = paid_checkout(stripe_double, account)
    first = await deliver(user.http_client, stripe_double, completed)
    await wait_until_processed(completed['id'])
    reads_after_first = len(stripe_double.calls('GET', '/v1/checkout/sessions/'))
    second = await deliver(user.http_client, stripe_double, completed)
    await asyncio.sleep(0.2)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()['duplicate'] is True
    assert WebhookEvent.select().count() == 1
    assert [d.result for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == ['accepted', 'duplicate']
    assert len(stripe_double.calls('GET', '/v1/checkout/sessions/')) == reads_after_first


async def test_twenty_concurrent_copies_have_one_effect(stripe_double, user: User):
    account = make_user()
    _, completed, _ = paid_checkout(stripe_double, account)
    responses = await asyncio.gather(*[deliver(user.http_client, stripe_double, completed) for _ in range(20)])
    await wait_until_processed(completed['id'])
    await asyncio.sleep(0.2)
    assert all(response.status_code == 200 for response in responses)
    assert sum(not response.json()['duplicate'] for response in responses) == 1
    assert WebhookEvent.select().count() == 1
    assert WebhookDelivery.select().count() == 20
    assert len(stripe_double.calls('GET', '/v1/checkout/sessions/')) == 1
    assert Subscription.select().count() == 1


async def test_out_of_order_events_end_in_stripes_current_state(stripe_double, user: User):
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account)
    subscription_id = created['data']['object']['id']
    updated = stripe_double.set_subscription_status(subscription_id, 'active', cancel_at_period_end=True)
    deleted = stripe_double.set_subscription_status(subscription_id, 'canceled')
    for event in (deleted, updated, created):
        await deliver(user.http_client, stripe_double, event)
        await wait_until_processed(event['id'])
    stored = Subscription.get(Subscription.subscription_id == subscription_id)
    assert stored.status == stripe_double.subscriptions[subscription_id]['status'] == 'canceled'
    assert stored.cancel_at_period_end is True
    assert not entitlements.entitlement_for(account).is_entitled


async def test_payment_failed_marks_the_subscription_past_due(stripe_double, user: User):
    account = make_user()
    created, completed, _ = paid_checkout(stripe_double, account)
    await deliver(user.http_client, stripe_double, completed)
    await wait_until_processed(completed['id'])
    failed = stripe_double.payment_failed(created['data']['object']['id'])
    await deliver(user.http_client, stripe_double, failed)
    assert await wait_until_processed(failed['id']) == 'processed'
    assert Subscription.get().status == 'past_due'
    assert Subscription.get().past_due_since is not None


def test_past_due_within_the_grace_period_is_entitled(stripe_double):
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account)
    stripe_double.set_subscription_status(created['data']['object']['id'], 'past_due')
    billing.sync_subscription(created['data']['object']['id'])
    Subscription.update(past_due_since=utcnow() - timedelta(days=2)).execute()
    assert entitlements.entitlement_for(account).agents_allowed == 3


def test_past_due_after_the_grace_period_is_not_entitled(stripe_double):
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account)
    stripe_double.set_subscription_status(created['data']['object']['id'], 'past_due')
    billing.sync_subscription(created['data']['object']['id'])
    Subscription.update(past_due_since=utcnow() - timedelta(days=3, minutes=1)).execute()
    assert not entitlements.entitlement_for(account).is_entitled


def test_past_due_keeps_the_time_it_started_across_syncs(stripe_double):
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account)
    subscription_id = created['data']['object']['id']
    stripe_double.set_subscription_status(subscription_id, 'past_due')
    billing.sync_subscription(subscription_id)
    started = utcnow() - timedelta(days=1)
    Subscription.update(past_due_since=started).execute()
    billing.sync_subscription(subscription_id)
    assert Subscription.get().past_due_since == started


@pytest.mark.parametrize('status', ['incomplete', 'incomplete_expired', 'unpaid', 'canceled', 'paused'])
def test_statuses_outside_good_standing_are_not_entitled(stripe_double, status):
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account)
    stripe_double.set_subscription_status(created['data']['object']['id'], status)
    billing.sync_subscription(created['data']['object']['id'])
    assert not entitlements.entitlement_for(account).is_entitled


async def test_receiving_does_not_wait_for_stripe(stripe_double, user: User):
    account = make_user()
    _, completed, _ = paid_checkout(stripe_double, account)
    stripe_double.fail_next(50, status=503)
    response = await deliver(user.http_client, stripe_double, completed)
    assert response.status_code == 200
    assert await wait_until_processed_or_pending(completed['id']) == 'pending'
    event = WebhookEvent.get()
    assert event.next_attempt_at is not None and 'Stripe' in event.last_error


async def wait_until_processed_or_pending(event_id: str) -> str:
    for _ in range(200):
        event = WebhookEvent.get_or_none(WebhookEvent.event_id == event_id)
        if event is not None and event.attempts > 0 and event.status != 'processing':
            return event.status
        await asyncio.sleep(0.02)
    raise AssertionError('the event was never attempted')


def test_a_transient_failure_is_retried_when_due(stripe_double):
    account = make_user()
    _, completed, _ = paid_checkout(stripe_double, account)
    stripe_webhooks.receive(**signed(stripe_double, completed))
    stripe_double.fail_next(1, status=500)
    assert stripe_webhooks.process(completed['id']) == 'pending'
    WebhookEvent.update(next_attempt_at=utcnow()).execute()
    assert stripe_webhooks.process_due() == 1
    assert WebhookEvent.get().status == 'processed'
    assert entitlements.entitlement_for(account).plan == 'pro'


def test_a_permanent_failure_is_kept_with_its_traceback_and_can_be_reprocessed(stripe_double):
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account)
    orphan = stripe_double.subscriptions[created['data']['object']['id']]
    orphan['metadata'] = {}  # no account can be found for this customer yet
    stripe_webhooks.receive(**signed(stripe_double, created))
    assert stripe_webhooks.process(created['id']) == 'failed'
    failed = WebhookEvent.get()
    assert 'no account here is linked' in failed.last_error and 'Traceback' in failed.traceback
    orphan['metadata'] = {'user_id': str(account.id)}
    assert stripe_webhooks.reprocess_failed() == {created['id']: 'processed'}
    assert entitlements.entitlement_for(account).plan == 'pro'


def test_events_left_pending_by_a_restart_are_processed_by_the_next_tick(stripe_double):
    account = make_user()
    _, completed, _ = paid_checkout(stripe_double, account)
    stripe_webhooks.receive(**signed(stripe_double, completed))  # stored, then the process died
    assert stripe_webhooks.process_due() == 1
    assert entitlements.entitlement_for(account).plan == 'pro'


def test_an_event_claimed_by_a_worker_is_not_taken_twice(stripe_double):
    _, completed, _ = paid_checkout(stripe_double, make_user())
    stripe_webhooks.receive(**signed(stripe_double, completed))
    assert stripe_webhooks._claim(completed['id'])
    assert not stripe_webhooks._claim(completed['id'])
    assert stripe_webhooks.process(completed['id']) is None


def test_delivery_log_keeps_the_headers_but_not_the_signature(stripe_double):
    _, completed, _ = paid_checkout(stripe_double, make_user())
    stripe_webhooks.receive(**signed(stripe_double, completed))
    headers = json.loads(WebhookDelivery.get().headers)
    assert headers['Content-Type'] == 'application/json'
    assert 'Stripe-Signature' not in headers
    assert json.loads(WebhookEvent.get().payload)['id'] == completed['id']


def signed(double: StripeDouble, event: dict) -> dict:
    payload, headers = double.signed(event)
    return {'payload': payload, 'signature': headers['Stripe-Signature'], 'headers': headers}


def test_events_about_one_subscription_are_settled_by_one_reread(stripe_double):
    created, _, _ = paid_checkout(stripe_double, make_user())
    subscription_id = created['data']['object']['id']
    updates = [stripe_double.set_subscription_status(subscription_id, 'active') for _ in range(5)]
    for event in updates:
        stripe_webhooks.receive(**signed(stripe_double, event))
    reads_before = len(stripe_double.calls('GET', f'/v1/subscriptions/{subscription_id}'))
    assert stripe_webhooks.process_due() == 1
    assert len(stripe_double.calls('GET', f'/v1/subscriptions/{subscription_id}')) == reads_before + 1
    assert {event.status for event in WebhookEvent.select()} == {'processed'}


def test_an_event_arriving_during_the_reread_is_processed_on_its_own(stripe_double):
    created, _, _ = paid_checkout(stripe_double, make_user())
    subscription_id = created['data']['object']['id']
    first = stripe_double.set_subscription_status(subscription_id, 'active')
    stripe_webhooks.receive(**signed(stripe_double, first))
    later = stripe_double.set_subscription_status(subscription_id, 'past_due')
    stripe_webhooks.receive(**signed(stripe_double, later))
    WebhookEvent.update(received_at=utcnow() + timedelta(seconds=5)).where(WebhookEvent.event_id == later['id']) \
        .execute()
    stripe_webhooks.process(first['id'])
    assert WebhookEvent.get(WebhookEvent.event_id == later['id']).status == 'pending'


def test_a_database_hiccup_while_processing_is_retried_not_failed(stripe_double, monkeypatch):
    import peewee
    _, completed, _ = paid_checkout(stripe_double, make_user())
    stripe_webhooks.receive(**signed(stripe_double, completed))

    def locked(_session_id, **_):
        raise peewee.OperationalError('database is locked')

    monkeypatch.setattr(billing, 'fulfil_checkout', locked)
    assert stripe_webhooks.process(completed['id']) == 'pending'
    assert WebhookEvent.get().next_attempt_at is not None
