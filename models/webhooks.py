from peewee import CharField, DateTimeField, IntegerField, TextField

from .database import BaseModel, utcnow
from .statuses import EventStatus


class WebhookEvent(BaseModel):
    """One verified event from Stripe or GitHub, stored once by its provider id: the unique key is the dedupe.

    Receiving only stores; processing follows off the request, retries with back-off and survives a restart.
    """
    source = CharField(max_length=16)
    event_id = CharField(max_length=255)
    type = CharField(max_length=128)
    object_key = CharField(max_length=255, null=True, index=True)
    """What processing re-reads (`subscription:sub_…`); events with the same key are settled by one re-read."""
    payload = TextField()
    status = CharField(max_length=16, default=EventStatus.PENDING, index=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True, index=True)
    last_error = TextField(default='')
    traceback = TextField(default='')
    received_at = DateTimeField(default=utcnow)
    processed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('source', 'event_id'), True),)


class WebhookDelivery(BaseModel):
    """Every verified delivery, duplicates included, with its headers and what became of it (admin page)."""
    source = CharField(max_length=16)
    event_id = CharField(max_length=255, index=True)
    headers = TextField()
    result = CharField(max_length=16)
    received_at = DateTimeField(default=utcnow)
