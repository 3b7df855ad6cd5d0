"""The one webhook store for every sender (Stripe, GitHub): store once by id, log the delivery, keep the
failure, reprocess.

A sender delivers at least once, so the event's own id (Stripe's `evt_…`, GitHub's `X-GitHub-Delivery`) is the
unique key: a duplicate adds only a row to the delivery log. Processing is the sender's own business; what
becomes of it is written back here, a failure with its traceback, so the admin page can show it and reprocess it.
Callers verify the signature first: nothing unverified is stored.
"""
import json
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from models import EventStatus, WebhookDelivery, WebhookEvent, raw_sql, utcnow, write_transaction
from models.raw_sql import quoted

from . import metrics
from .errors import DomainError
from .retry import RetryPolicy

T = TypeVar('T')

ACCEPTED, DUPLICATE, RETRIED = 'accepted', 'duplicate', 'retried'
"""What the delivery log says of a delivery: new, seen before, or a failed event delivered again."""
SENDERS = {'stripe': 'Stripe event', 'github': 'GitHub delivery'}


class WebhookError(DomainError):
    pass


@dataclass(frozen=True)
class Stored:
    source: str
    event_id: str
    result: str

    @property
    def event(self) -> WebhookEvent:
        """The stored event, read when a caller needs it (the hot Stripe path only needs `is_new`)."""
        return find(self.source, self.event_id)

    @property
    def is_new(self) -> bool:
        return self.result == ACCEPTED

    @property
    def to_process(self) -> bool:
        """New, or a failed event delivered again by a sender that asks for that (GitHub's Redeliver)."""
        return self.result != DUPLICATE


@dataclass(frozen=True)
class Arrival:
    """A verified event to store. `headers` are logged as given: callers keep only what is safe to show (never a
    signature)."""
    source: str
    event_id: str
    type: str
    payload: str
    headers: dict[str, str]
    object_key: str | None = None
    redelivery_retries: bool = False


def store(*, source: str, event_id: str, type: str, payload: str, headers: dict[str, str],
          object_key: str | None = None, redelivery_retries: bool = False) -> Stored:
    """Store a verified event once by its id and log this delivery, in one write transaction."""
    return store_all([Arrival(source, event_id, type, payload, headers, object_key, redelivery_retries)])[0]


def store_all(arrivals: list[Arrival]) -> list[Stored]:
    """Store verified events, each once by its id, and log every delivery, all in one write transaction.

    Stripe's deliveries come here all the time, so it is two statements whatever the batch's size: the events
    inserted (the database answers which were new) and the delivery log; the first of two deliveries of one new event
    in a batch is the accepted one."""
    if not arrivals:
        return []
    now = utcnow()
    with write_transaction():
        new = _insert_new_events(arrivals, now)
        stored = [_stored(arrival, new) for arrival in arrivals]
        _log_deliveries(arrivals, stored, now)
    for (source, result), count in Counter((each.source, each.result) for each in stored).items():
        metrics.webhook_deliveries.labels(source=source, result=result).inc(count)
    return stored


EVENT_COLUMNS = (WebhookEvent.source, WebhookEvent.event_id, WebhookEvent.type, WebhookEvent.object_key,
                 WebhookEvent.payload, WebhookEvent.status, WebhookEvent.attempts, WebhookEvent.last_error,
                 WebhookEvent.traceback, WebhookEvent.received_at)
DELIVERY_COLUMNS = (WebhookDelivery.source, WebhookDelivery.event_id, WebhookDelivery.headers,
                    WebhookDelivery.result, WebhookDelivery.received_at)


def _insert_new_events(arrivals: list[Arrival], now: datetime) -> set[tuple[str, str]]:
    """(source, event id) of the events that were not stored yet, now stored."""
    row = f'({", ".join("?" * len(EVENT_COLUMNS))})'
    inserted = raw_sql.fetch(
        f'INSERT INTO {quoted(WebhookEvent)} ({", ".join(quoted(column) for column in EVENT_COLUMNS)}) '
        f'VALUES {", ".join([row] * len(arrivals))} ON CONFLICT DO NOTHING '
        f'RETURNING {quoted(WebhookEvent.source)}, {quoted(WebhookEvent.event_id)}',
        [value for arrival in arrivals for value in (arrival.source, arrival.event_id, arrival.type, arrival.object_key,
                                                     arrival.payload, str(EventStatus.PENDING), 0, '', '', now)])
    return {(source, event_id) for source, event_id in inserted}


def _stored(arrival: Arrival, new: set[tuple[str, str]]) -> Stored:
    key = (arrival.source, arrival.event_id)
    if key in new:
        new.discard(key)  # a second delivery of it in the same batch is a duplicate
        result = ACCEPTED
    elif arrival.redelivery_retries and status_of(arrival.source, arrival.event_id) == EventStatus.FAILED:
        result = RETRIED
    else:
        result = DUPLICATE
    return Stored(source=arrival.source, event_id=arrival.event_id, result=result)


def _log_deliveries(arrivals: list[Arrival], stored: list[Stored], now: datetime) -> None:
    raw_sql.batch(f'INSERT INTO {quoted(WebhookDelivery)} ({", ".join(quoted(column) for column in DELIVERY_COLUMNS)}) '
                  f'VALUES ({", ".join("?" * len(DELIVERY_COLUMNS))})',
                  [(arrival.source, arrival.event_id, json.dumps(arrival.headers), each.result, now)
                   for arrival, each in zip(arrivals, stored, strict=True)])


def status_of(source: str, event_id: str) -> str | None:
    return (WebhookEvent.select(WebhookEvent.status)
            .where((WebhookEvent.source == source) & (WebhookEvent.event_id == event_id)).scalar())


def find(source: str, event_id: str) -> WebhookEvent:
    event = WebhookEvent.get_or_none((WebhookEvent.source == source) & (WebhookEvent.event_id == event_id))
    if event is None:
        raise WebhookError('NOT_FOUND', f'No stored {SENDERS.get(source, source)} {event_id}.')
    return event


def count_attempt(event: WebhookEvent) -> None:
    """For senders processed on receipt (no claim counts it): one more attempt at this event."""
    WebhookEvent.update(attempts=WebhookEvent.attempts + 1).where(WebhookEvent.id == event.id).execute()


def record_outcome(event: WebhookEvent, status: EventStatus) -> None:
    """Processing finished (processed, or ignored): clear any earlier failure."""
    (WebhookEvent.update(status=status, processed_at=utcnow(), next_attempt_at=None, last_error='', traceback='')
     .where(WebhookEvent.id == event.id).execute())


def record_failure(event: WebhookEvent, message: str, *, retry: RetryPolicy | None = None) -> EventStatus:
    """Keep a failure with the traceback being handled; pending again after a back-off while `retry` allows.

    Call it from the `except` block, so the traceback is the failure's. `event.attempts` counts the attempts made.
    """
    status = EventStatus.PENDING if retry is not None and not retry.exhausted(event.attempts) else EventStatus.FAILED
    next_attempt_at = None
    if retry is not None and status == EventStatus.PENDING:
        next_attempt_at = utcnow() + timedelta(seconds=retry.delay(event.attempts))
    (WebhookEvent.update(status=status, last_error=message, traceback=traceback.format_exc(),
                         next_attempt_at=next_attempt_at)
     .where(WebhookEvent.id == event.id).execute())
    return status


def reprocess(source: str, event_id: str, process: Callable[[str], T]) -> T:
    """Run a stored event again, whatever became of it before (admin's Reprocess, the command line)."""
    updated = (WebhookEvent.update(status=EventStatus.PENDING, attempts=0, next_attempt_at=None)
               .where((WebhookEvent.source == source) & (WebhookEvent.event_id == event_id)).execute())
    if not updated:
        find(source, event_id)  # raises NOT_FOUND
    return process(event_id)


def reprocess_failed(source: str, process: Callable[[str], T]) -> dict[str, T]:
    """Run every failed event of one sender again; answers each event's new outcome."""
    failed = WebhookEvent.select(WebhookEvent.event_id).where((WebhookEvent.source == source)
                                                              & (WebhookEvent.status == EventStatus.FAILED))
    return {row.event_id: reprocess(source, row.event_id, process) for row in list(failed)}
