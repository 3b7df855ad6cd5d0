"""The one webhook store: once by id, every delivery logged, failures kept with their traceback, reprocessing."""
import json
from datetime import timedelta

import pytest

from models import EventStatus, WebhookDelivery, WebhookEvent, utcnow
from services.platform import webhook_store
from services.platform.retry import RetryPolicy
from services.platform.webhook_store import WebhookError

RETRY = RetryPolicy(base_seconds=2.0, cap_seconds=60.0, attempts=3)


def deliver(event_id: str = 'evt_1', *, source: str = 'stripe', redelivery_retries: bool = False,
            headers: dict[str, str] | None = None) -> webhook_store.Stored:
    return webhook_store.store(source=source, event_id=event_id, type='invoice.paid', payload='{"id": 1}',
                               headers=headers or {'user-agent': 'Stripe/1.0'}, redelivery_retries=redelivery_retries)


def failing(event: WebhookEvent, message: str, retry: RetryPolicy | None = None) -> EventStatus:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        return webhook_store.record_failure(event, message, retry=retry)


def reload(event: WebhookEvent) -> WebhookEvent:
    return WebhookEvent.get_by_id(event.id)


def test_an_event_is_stored_once_and_every_delivery_is_logged():
    first, second = deliver(), deliver()
    assert first.is_new and first.to_process
    assert not second.is_new and not second.to_process
    assert WebhookEvent.select().count() == 1
    assert [d.result for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == ['accepted', 'duplicate']
    assert json.loads(WebhookDelivery.get().headers) == {'user-agent': 'Stripe/1.0'}


def test_the_same_id_from_another_sender_is_another_event():
    assert deliver(source='stripe').is_new and deliver(source='github').is_new


def test_a_failed_event_delivered_again_is_processed_again_when_the_sender_asks_for_that():
    failing(deliver().event, 'boom')
    again = deliver(redelivery_retries=True)
    assert again.to_process and not again.is_new and again.result == 'retried'
    assert not deliver().to_process  # a sender that does not ask keeps it a duplicate


def test_a_failure_is_kept_with_its_traceback_and_without_a_policy_is_final():
    event = deliver().event
    assert failing(event, 'the handler broke') == EventStatus.FAILED
    stored = reload(event)
    assert stored.last_error == 'the handler broke'
    assert 'RuntimeError: the handler broke' in stored.traceback
    assert stored.next_attempt_at is None


def test_a_failure_within_the_policy_is_pending_again_after_a_back_off():
    event = deliver().event
    WebhookEvent.update(attempts=1).execute()
    before = utcnow()
    assert failing(reload(event), 'Stripe timed out', RETRY) == EventStatus.PENDING
    due = reload(event).next_attempt_at
    assert before <= due <= before + timedelta(seconds=RETRY.ceiling(1) + 1)


def test_a_failure_after_the_policys_last_attempt_is_final():
    event = deliver().event
    WebhookEvent.update(attempts=RETRY.attempts).execute()
    assert failing(reload(event), 'Stripe timed out', RETRY) == EventStatus.FAILED
    assert reload(event).next_attempt_at is None


def test_an_outcome_clears_the_earlier_failure():
    event = deliver().event
    failing(event, 'boom')
    webhook_store.record_outcome(event, EventStatus.PROCESSED)
    stored = reload(event)
    assert (stored.status, stored.last_error, stored.traceback) == (EventStatus.PROCESSED, '', '')
    assert stored.processed_at is not None


def test_reprocessing_starts_the_event_afresh_and_answers_what_processing_said():
    event = deliver().event
    WebhookEvent.update(attempts=5).execute()
    failing(reload(event), 'boom')
    seen = []

    def process(event_id: str) -> str:
        seen.append((event_id, reload(event).status, reload(event).attempts))
        return 'processed'

    assert webhook_store.reprocess('stripe', 'evt_1', process) == 'processed'
    assert seen == [('evt_1', EventStatus.PENDING, 0)]


def test_reprocessing_an_unknown_event_names_it():
    with pytest.raises(WebhookError) as refused:
        webhook_store.reprocess('github', 'delivery-9', lambda event_id: None)
    assert refused.value.code == 'NOT_FOUND' and 'GitHub delivery delivery-9' in refused.value.message


def test_reprocessing_the_failed_runs_only_the_failed_events_of_that_sender():
    failing(deliver('evt_failed').event, 'boom')
    deliver('evt_fine')
    failing(deliver('evt_failed', source='github').event, 'boom')
    assert webhook_store.reprocess_failed('stripe', lambda event_id: f'ran {event_id}') == \
        {'evt_failed': 'ran evt_failed'}
