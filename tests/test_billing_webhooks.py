import asyncio
import json
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import stripe
from nicegui.testing import User

from models import EntitlementLoss, Subscription, WebhookDelivery, WebhookEvent, utcnow
from services.billing import billing, entitlements, stripe_api, stripe_webhooks, stripe_worker
from services.billing.stripe_api import StripeCallError
from tests.factories import make_agent, make_user
from tests.provisioning_support import eventually, github, job_of, reload  # noqa: F401
from tests.stripe_double import StripeDouble, deliver, stripe_double, wait_until_processed  # noqa: F401
from tests.waiting import wait_until


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
    assert await wait_until_processed(completed['id']) == 'processed'
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()['duplicate'] is True
    assert WebhookEvent.select().count() == 1 and WebhookEvent.get().attempts == 1
    assert [d.result for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == ['accepted', 'duplicate']
    assert len(stripe_double.calls('GET', '/v1/checkout/sessions/')) == reads_after_first


async def test_twenty_concurrent_copies_have_one_effect(stripe_double, user: User):
    account = make_user()
    _, completed, _ = paid_checkout(stripe_double, account)
    responses = await asyncio.gather(*[deliver(user.http_client, stripe_double, completed) for _ in range(20)])
    assert await wait_until_processed(completed['id']) == 'processed'
    assert all(response.status_code == 200 for response in responses)
    assert sum(not response.json()['duplicate'] for response in responses) == 1
    assert WebhookEvent.select().count() == 1 and WebhookEvent.get().attempts == 1
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
    stripe_double.fail_next(1 + stripe_api.NETWORK_RETRIES, status=500)  # the SDK's own retries fail too
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


# --- the signature's 300 s tolerance, with the SDK's clock frozen so the edges are exact -----------------------------

class FrozenClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def frozen_sdk_clock(monkeypatch) -> float:
    """The Stripe SDK's own clock (it checks the tolerance), stopped at a whole second."""
    now = float(int(time.time()))
    monkeypatch.setattr(stripe._webhook, 'time', FrozenClock(now))
    return now


def receive_signed_at(double: StripeDouble, event: dict, timestamp: int) -> stripe_webhooks.Receipt:
    payload, headers = double.signed(event, timestamp=timestamp)
    return stripe_webhooks.receive(payload=payload, signature=headers['Stripe-Signature'], headers=headers)


@pytest.mark.parametrize('age', [299, 300])
def test_a_signature_up_to_300_seconds_old_is_accepted(stripe_double, frozen_sdk_clock, age):
    event = stripe_double.event('customer.tax_id.created', {'id': 'txi_1'})
    assert receive_signed_at(stripe_double, event, int(frozen_sdk_clock) - age).is_new


def test_a_signature_301_seconds_old_is_refused(stripe_double, frozen_sdk_clock):
    event = stripe_double.event('customer.tax_id.created', {'id': 'txi_1'})
    with pytest.raises(stripe_webhooks.WebhookError) as refused:
        receive_signed_at(stripe_double, event, int(frozen_sdk_clock) - 301)
    assert refused.value.code == 'BAD_SIGNATURE'
    assert not WebhookEvent.select().exists()


def test_a_signature_from_the_future_is_accepted_as_stripes_sdk_does(stripe_double, frozen_sdk_clock):
    """The SDK refuses only old timestamps: a sender's clock running ahead must not lose events."""
    event = stripe_double.event('customer.tax_id.created', {'id': 'txi_1'})
    assert receive_signed_at(stripe_double, event, int(frozen_sdk_clock) + 3600).is_new


# --- re-reads of one subscription ---------------------------------------------------------------------------------

class ObservedLock:
    """The code's own lock, saying when a second caller has to wait for it."""

    def __init__(self, lock) -> None:
        self.lock = lock
        self.waiting = threading.Event()

    def __enter__(self) -> 'ObservedLock':
        if not self.lock.acquire(blocking=False):
            self.waiting.set()
            self.lock.acquire()
        return self

    def __exit__(self, *_) -> None:
        self.lock.release()


def test_two_processings_about_one_subscription_never_let_the_older_read_win(stripe_double, monkeypatch):
    created, _, _ = paid_checkout(stripe_double, make_user())
    subscription_id = created['data']['object']['id']
    billing.sync_subscription(subscription_id)
    factory = billing._subscription_locks.default_factory
    locks = defaultdict(lambda: ObservedLock(factory()))
    monkeypatch.setattr(billing, '_subscription_locks', locks)
    first = stripe_double.set_subscription_status(subscription_id, 'active', cancel_at_period_end=True)
    stripe_webhooks.receive(**signed(stripe_double, first))
    slow_read = stripe_double.hold_next('GET', f'/v1/subscriptions/{subscription_id}')
    with ThreadPoolExecutor(max_workers=2) as pool:
        older = pool.submit(stripe_webhooks.process, first['id'])
        assert slow_read.arrived.wait(10), 'the first re-read never reached Stripe'  # it carries `active`
        second = stripe_double.set_subscription_status(subscription_id, 'canceled')
        stripe_webhooks.receive(**signed(stripe_double, second))
        newer = pool.submit(stripe_webhooks.process, second['id'])
        wait_until(lambda: newer.done() or locks[subscription_id].waiting.is_set(),
                 'the second re-read to finish or to wait for the first')
        slow_read.release()
        assert (older.result(timeout=10), newer.result(timeout=10)) == ('processed', 'processed')
    assert Subscription.get(Subscription.subscription_id == subscription_id).status == 'canceled'


def test_stripe_sync_rereads_a_subscription_whose_cancellation_was_never_delivered(stripe_double):
    account = make_user()
    created, completed, _ = paid_checkout(stripe_double, account)
    billing.fulfil_checkout(completed['data']['object']['id'])
    stripe_double.set_subscription_status(created['data']['object']['id'], 'canceled')
    assert billing.sync_all() == 1
    assert Subscription.get().status == 'canceled'
    assert not entitlements.entitlement_for(account).is_entitled


# --- what is handled ------------------------------------------------------------------------------------------------

async def test_an_invoice_paid_event_alone_brings_a_past_due_subscription_back(stripe_double, user: User):
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account)
    subscription_id = created['data']['object']['id']
    stripe_double.payment_failed(subscription_id)
    billing.sync_subscription(subscription_id)
    assert Subscription.get().status == 'past_due'
    paid = stripe_double.pay_invoice(subscription_id)
    assert (await deliver(user.http_client, stripe_double, paid)).status_code == 200
    assert await wait_until_processed(paid['id']) == 'processed'
    stored = Subscription.get()
    assert (stored.status, stored.past_due_since) == ('active', None)
    assert entitlements.entitlement_for(account).agents_allowed == 3


# --- retries ----------------------------------------------------------------------------------------------------------

def test_a_failure_stripe_marks_retryable_is_retried_by_the_sdk_first(stripe_double):
    _, completed, _ = paid_checkout(stripe_double, make_user())
    stripe_webhooks.receive(**signed(stripe_double, completed))
    stripe_double.fail_next(1, status=503)  # answered with Stripe-Should-Retry: true
    assert stripe_webhooks.process(completed['id']) == 'processed'
    assert len(stripe_double.calls('GET', '/v1/checkout/sessions/')) == 2
    assert WebhookEvent.get().attempts == 1


def test_processing_retries_back_off_exponentially_with_full_jitter(stripe_double, monkeypatch):
    _, completed, _ = paid_checkout(stripe_double, make_user())
    stripe_webhooks.receive(**signed(stripe_double, completed))

    def unavailable(_session_id, **_):
        raise StripeCallError('STRIPE_UNAVAILABLE', 'Stripe could not be reached.', transient=True)

    monkeypatch.setattr(billing, 'fulfil_checkout', unavailable)

    def delays_after(attempt: int, samples: int = 20) -> list[float]:
        """The back-off chosen after the `attempt`-th failed attempt, `samples` times over."""
        delays = []
        for _ in range(samples):
            WebhookEvent.update(status='pending', attempts=attempt - 1, next_attempt_at=None).execute()
            before = utcnow()
            assert stripe_webhooks.process(completed['id']) == 'pending'
            delays.append((WebhookEvent.get().next_attempt_at - before).total_seconds())
        return delays

    for attempt in (1, 3, 5, 7):
        ceiling = stripe_webhooks.RETRY.base_seconds * 2 ** attempt  # doubles with every attempt
        delays = delays_after(attempt)
        assert max(delays) <= ceiling + 1, (attempt, delays)
        assert min(delays) < ceiling / 2 < max(delays), (attempt, delays)  # spread over the whole range: jitter
        assert max(delays) - min(delays) > ceiling / 4, (attempt, delays)


# --- the periodic check ---------------------------------------------------------------------------------------------

@pytest.fixture
def frequent_enforcement(monkeypatch) -> None:
    """The worker's periodic entitlement check every 0.1 s instead of every few minutes; request it before `user`."""
    monkeypatch.setattr(stripe_worker, 'ENFORCEMENT_SECONDS', 0.1)


async def test_grace_running_out_without_any_event_stops_the_agents_on_the_periodic_tick(
        frequent_enforcement, stripe_double, github, user: User):  # noqa: ARG001
    account = make_user()
    created, _, _ = paid_checkout(stripe_double, account, plan='starter')
    subscription_id = created['data']['object']['id']
    agent = make_agent(account, status='running')
    stripe_double.payment_failed(subscription_id)
    billing.sync_subscription(subscription_id)
    assert reload(agent).status == 'running'  # within the grace period
    Subscription.update(past_due_since=utcnow() - timedelta(days=3, minutes=1)).execute()
    await eventually(lambda: reload(agent).status == 'stopping', 'the periodic check to stop the agent')
    assert EntitlementLoss.get().agent_id == agent.id
    assert job_of(agent).kind == 'deprovision'


def test_deliveries_stored_together_refuse_a_bad_signature_alone(stripe_double):
    created, completed, _ = paid_checkout(stripe_double, make_user())
    forged = {**signed(stripe_double, created), 'signature': 't=1,v1=00'}
    answers = stripe_webhooks.receive_all([stripe_webhooks.Delivery(**signed(stripe_double, completed)),
                                           stripe_webhooks.Delivery(**forged),
                                           stripe_webhooks.Delivery(**signed(stripe_double, completed))])
    assert [getattr(answer, 'code', None) or answer.is_new for answer in answers] == [True, 'BAD_SIGNATURE', False]
    assert [event.event_id for event in WebhookEvent.select()] == [completed['id']]
    assert WebhookDelivery.select().count() == 2


async def test_deliveries_arriving_together_are_all_stored_and_answered(stripe_double, user: User):
    account = make_user()
    events = paid_checkout(stripe_double, account)
    answers = await asyncio.gather(*[deliver(user.http_client, stripe_double, event) for event in events])
    assert [answer.status_code for answer in answers] == [200] * len(events)
    assert WebhookEvent.select().count() == len(events)


def test_a_workers_pass_leaves_events_stored_after_it_began_to_the_next(stripe_double):
    created, completed, _ = paid_checkout(stripe_double, make_user())
    stripe_webhooks.receive(**signed(stripe_double, completed))
    began = utcnow()
    stripe_webhooks.receive(**signed(stripe_double, created))
    later = WebhookEvent.event_id == created['id']
    WebhookEvent.update(received_at=began + timedelta(seconds=1)).where(later).execute()
    assert stripe_webhooks.process_due(received_by=began) == 1
    assert {event.event_id: event.status for event in WebhookEvent.select()} == \
        {completed['id']: 'processed', created['id']: 'pending'}
