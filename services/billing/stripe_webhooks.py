"""Stripe webhooks: verify and store on receipt, process afterwards.

Receiving never waits on Stripe's API: it verifies the signature with the SDK, stores the event once by
its id and answers. Processing re-reads the objects from Stripe, retries transient failures with back-off,
survives a restart (the event row is the queue) and keeps failures with their traceback for reprocessing.
"""
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee
import stripe

from models import EventStatus, WebhookEvent, utcnow

from ..platform import events, metrics, notifications, webhook_store
from ..platform.errors import DomainError
from ..platform.group_commit import GroupCommit
from ..platform.retry import RetryPolicy
from ..platform.settings import get_settings
from ..platform.webhook_store import WebhookError
from . import billing
from .stripe_api import StripeCallError

SOURCE = 'stripe'
SIGNATURE_TOLERANCE_SECONDS = 300
RETRY = RetryPolicy(base_seconds=2.0, cap_seconds=15 * 60, attempts=8)
"""Processing retries: a transient Stripe or database failure is tried again, at most eight times in all."""
LEASE = timedelta(minutes=5)
"""A claimed event whose worker died is taken up again after this long."""
RECORDED_HEADERS = ('user-agent', 'content-type', 'content-length', 'x-forwarded-for')
"""Kept in the delivery log; the signature is left out like every other credential-like value."""

log = logging.getLogger(__name__)


@dataclass
class Receipt:
    event_id: str
    is_new: bool


@dataclass(frozen=True)
class Delivery:
    """One POST from Stripe, as it arrived; `request_id` tags its log lines when it is stored with others."""
    payload: bytes
    signature: str | None
    headers: dict[str, str]
    request_id: str | None = None

    def log_fields(self) -> dict[str, str]:
        return {'request_id': self.request_id} if self.request_id else {}


def receive(*, payload: bytes, signature: str | None, headers: dict[str, str]) -> Receipt:
    """Verify and store one delivery; a duplicate adds only a delivery-log row marked as such."""
    [receipt] = receive_all([Delivery(payload, signature, headers)])
    if isinstance(receipt, WebhookError):
        raise receipt
    return receipt


def receive_all(deliveries: list[Delivery]) -> list[Receipt | WebhookError]:
    """Verify each delivery and store those that verify, all in one write transaction; each gets its receipt or
    its own error. Processing follows off the request: the worker is woken once the transaction committed."""
    verified = [verify(delivery) for delivery in deliveries]
    arrivals = [arrival for arrival in verified if isinstance(arrival, webhook_store.Arrival)]
    stored = iter(webhook_store.store_all(arrivals))
    answers: list[Receipt | WebhookError] = []
    for delivery, arrival in zip(deliveries, verified, strict=True):
        if isinstance(arrival, WebhookError):
            answers.append(arrival)
            continue
        receipt = next(stored)
        log.info('stripe event received', extra={'event_id': arrival.event_id, 'event_type': arrival.type,
                                                  'duplicate': not receipt.is_new, **delivery.log_fields()})
        answers.append(Receipt(event_id=arrival.event_id, is_new=receipt.is_new))
    if any(isinstance(answer, Receipt) and answer.is_new for answer in answers):
        events.stripe_event_received()
    return answers


def verify(delivery: Delivery) -> webhook_store.Arrival | WebhookError:
    """The event to store, once its signature verifies with STRIPE_WEBHOOK_SECRET; the error otherwise."""
    secret = get_settings().stripe_webhook_secret
    if not secret:
        metrics.webhook_deliveries.labels(source=SOURCE, result='not_configured').inc()
        return WebhookError('WEBHOOK_NOT_CONFIGURED', 'STRIPE_WEBHOOK_SECRET is not set on this installation.')
    try:
        payload = delivery.payload.decode('utf-8')
        stripe.WebhookSignature.verify_header(payload, delivery.signature, secret, SIGNATURE_TOLERANCE_SECONDS)
        event = json.loads(payload)
        event_id, event_type = str(event['id']), str(event['type'])
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        metrics.webhook_deliveries.labels(source=SOURCE, result='bad_signature').inc()
        log.warning('stripe delivery refused: its signature does not verify with STRIPE_WEBHOOK_SECRET',
                    extra=delivery.log_fields())
        return WebhookError('BAD_SIGNATURE', f'The Stripe-Signature does not verify: {error}')
    kept = {name: value for name, value in delivery.headers.items() if name.lower() in RECORDED_HEADERS}
    return webhook_store.Arrival(source=SOURCE, event_id=event_id, type=event_type, payload=payload, headers=kept,
                                 object_key=_object_key(event))


intake: GroupCommit[Delivery, Receipt] = GroupCommit('stripe deliveries', receive_all)
"""Deliveries arriving together are stored in one transaction (one writer, no lock queue): `await
intake.submit(delivery)`."""


def process(event_id: str) -> str | None:
    """Process one stored event if it is due and nobody else holds it; returns its new status."""
    if not _claim(event_id):
        return None
    event = WebhookEvent.get((WebhookEvent.source == SOURCE) & (WebhookEvent.event_id == event_id))
    reread_from = utcnow()
    try:
        status = _handle(json.loads(event.payload))
    except StripeCallError as error:
        return webhook_store.record_failure(event, error.message, retry=RETRY if error.transient else None)
    except (peewee.OperationalError, peewee.InterfaceError) as error:  # a locked or restarting database passes
        return webhook_store.record_failure(event, f'{type(error).__name__}: {error}', retry=RETRY)
    except Exception as error:  # noqa: BLE001 — any handler bug is kept with its traceback for reprocessing
        message = error.message if isinstance(error, DomainError) else f'{type(error).__name__}: {error}'
        return webhook_store.record_failure(event, message)
    webhook_store.record_outcome(event, status)
    if status == EventStatus.PROCESSED and event.object_key:
        _settle_covered_events(event, reread_from)
    return status


def _settle_covered_events(event: WebhookEvent, reread_from) -> int:
    """Events about the same object that arrived before our re-read began are already reflected by it."""
    return (WebhookEvent.update(status=EventStatus.PROCESSED, processed_at=utcnow(), next_attempt_at=None)
            .where((WebhookEvent.source == SOURCE) & (WebhookEvent.object_key == event.object_key)
                   & (WebhookEvent.status == EventStatus.PENDING) & (WebhookEvent.received_at <= reread_from)
                   & (WebhookEvent.id != event.id))
            .execute())


def process_due(limit: int = 100, received_by: datetime | None = None) -> int:
    """Process events that are pending and due, or whose worker's lease ran out (the worker's pass); with
    `received_by`, only those stored by then.

    One at a time, each picked after the last is done: processing one event often settles others about the same
    object, and those are then skipped without another claim.
    """
    processed = 0
    for _ in range(limit):
        event_id = _next_due_event_id(received_by)
        if event_id is None or process(event_id) is None:
            break
        processed += 1
    return processed


def _next_due_event_id(received_by: datetime | None) -> str | None:
    now = utcnow()
    due = ((WebhookEvent.source == SOURCE) & WebhookEvent.status.in_((EventStatus.PENDING, EventStatus.PROCESSING))
           & (WebhookEvent.next_attempt_at.is_null() | (WebhookEvent.next_attempt_at <= now)))
    if received_by is not None:
        due &= WebhookEvent.received_at <= received_by
    row = (WebhookEvent.select(WebhookEvent.event_id).where(due)
           .order_by(WebhookEvent.received_at, WebhookEvent.id).first())
    return row.event_id if row else None


def reprocess(event_id: str) -> str | None:
    """Run a stored event again, whatever became of it before (admin button, `stripe reprocess --id`)."""
    return webhook_store.reprocess(SOURCE, event_id, process)


def reprocess_failed() -> dict[str, str | None]:
    return webhook_store.reprocess_failed(SOURCE, process)


def _claim(event_id: str) -> bool:
    """Compare-and-set from pending (or an expired lease) to processing, so two workers never share an event."""
    now = utcnow()
    return bool(WebhookEvent.update(status=EventStatus.PROCESSING, attempts=WebhookEvent.attempts + 1,
                                    next_attempt_at=now + LEASE)
                .where((WebhookEvent.source == SOURCE) & (WebhookEvent.event_id == event_id)
                       & WebhookEvent.status.in_((EventStatus.PENDING, EventStatus.PROCESSING))
                       & (WebhookEvent.next_attempt_at.is_null() | (WebhookEvent.next_attempt_at <= now)))
                .execute())


def _handle(event: dict) -> EventStatus:
    """Re-read the event's object from Stripe and apply it; 'ignored' for types we do not act on."""
    event_type, obj = event['type'], event['data']['object']
    if event_type == 'checkout.session.completed':
        billing.fulfil_checkout(obj['id'])
    elif event_type.startswith('customer.subscription.'):
        billing.sync_subscription(obj['id'])
    elif event_type in ('invoice.paid', 'invoice.payment_failed'):
        subscription_id = _invoice_subscription(obj)
        if subscription_id is None:
            return EventStatus.IGNORED
        subscription = billing.sync_subscription(subscription_id)
        if event_type == 'invoice.payment_failed':
            notifications.payment_failed(subscription.user)
    else:
        return EventStatus.IGNORED
    return EventStatus.PROCESSED


def _object_key(event: dict) -> str | None:
    """The object processing will re-read for this event, as `kind:id`; None when nothing is re-read."""
    event_type, obj = event.get('type', ''), (event.get('data') or {}).get('object') or {}
    if event_type == 'checkout.session.completed':
        return f'checkout:{obj.get("id")}'
    if event_type.startswith('customer.subscription.'):
        return f'subscription:{obj.get("id")}'
    if event_type == 'invoice.paid':  # not payment_failed: that one also mails the customer, so it runs itself
        subscription_id = _invoice_subscription(obj)
        return f'subscription:{subscription_id}' if subscription_id else None
    return None


def _invoice_subscription(invoice: dict) -> str | None:
    """Since API 2025-03-31 an invoice names its subscription under parent.subscription_details."""
    details = ((invoice.get('parent') or {}).get('subscription_details') or {})
    subscription = details.get('subscription') or invoice.get('subscription')
    return subscription if isinstance(subscription, str) else (subscription or {}).get('id')
