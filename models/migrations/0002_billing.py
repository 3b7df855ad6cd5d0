"""Billing (Stripe customers, subscriptions, complimentary grants, entitlement losses) and webhook storage."""
import datetime

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Agent(Model):
        class Meta:
            database = db
            table_name = 'agent'

    class StripeCustomer(Model):
        user = ForeignKeyField(User, unique=True, on_delete='CASCADE')
        customer_id = CharField(max_length=255, unique=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'stripe_customer'

    class Subscription(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        subscription_id = CharField(max_length=255, unique=True)
        customer_id = CharField(max_length=255, index=True)
        plan = CharField(max_length=32)
        price_id = CharField(max_length=255)
        status = CharField(max_length=32)
        current_period_end = DateTimeField(null=True)
        cancel_at_period_end = BooleanField(default=False)
        past_due_since = DateTimeField(null=True)
        agent = ForeignKeyField(Agent, null=True, on_delete='SET NULL')
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'subscription'

    class CompGrant(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        plan = CharField(max_length=32)
        until = DateTimeField(null=True)
        granted_by = CharField(max_length=254)
        granted_at = DateTimeField(default=datetime.datetime.utcnow)
        revoked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'comp_grant'

    class EntitlementLoss(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        reason = CharField(max_length=255)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        handled_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'entitlement_loss'

    class WebhookEvent(Model):
        source = CharField(max_length=16)
        event_id = CharField(max_length=255)
        type = CharField(max_length=128)
        payload = TextField()
        status = CharField(max_length=16, default='pending', index=True)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(null=True, index=True)
        last_error = TextField(default='')
        traceback = TextField(default='')
        received_at = DateTimeField(default=datetime.datetime.utcnow)
        processed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'webhook_event'
            indexes = ((('source', 'event_id'), True),)

    class WebhookDelivery(Model):
        source = CharField(max_length=16)
        event_id = CharField(max_length=255, index=True)
        headers = TextField()
        result = CharField(max_length=16)
        received_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'webhook_delivery'

    db.create_tables([StripeCustomer, Subscription, CompGrant, EntitlementLoss, WebhookEvent, WebhookDelivery])
