from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField

from .agent import Agent
from .database import BaseModel, utcnow
from .user import User


class StripeCustomer(BaseModel):
    """Links an account to its Stripe customer, so Checkout reuses it and the portal can open."""
    user = ForeignKeyField(User, backref='stripe_customers', unique=True, on_delete='CASCADE')
    user_id: int
    customer_id = CharField(max_length=255, unique=True)
    created_at = DateTimeField(default=utcnow)


class Subscription(BaseModel):
    """Our copy of a Stripe subscription; `stripe_updated` orders writes so an older state never wins."""
    user = ForeignKeyField(User, backref='subscriptions', on_delete='CASCADE')
    user_id: int
    subscription_id = CharField(max_length=255, unique=True)
    customer_id = CharField(max_length=255, index=True)
    plan = CharField(max_length=32)
    price_id = CharField(max_length=255)
    status = CharField(max_length=32)
    current_period_end = DateTimeField(null=True)
    cancel_at_period_end = BooleanField(default=False)
    past_due_since = DateTimeField(null=True)
    agent = ForeignKeyField(Agent, null=True, backref='subscriptions', on_delete='SET NULL')
    agent_id: int | None
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class CompGrant(BaseModel):
    """A complimentary entitlement granted by an operator, recorded with who and when."""
    user = ForeignKeyField(User, backref='comp_grants', on_delete='CASCADE')
    user_id: int
    plan = CharField(max_length=32)
    until = DateTimeField(null=True)
    granted_by = CharField(max_length=254)
    granted_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)


class EntitlementLoss(BaseModel):
    """An agent queued for stopping because its owner lost the entitlement; kept for the audit trail."""
    agent = ForeignKeyField(Agent, backref='entitlement_losses', on_delete='CASCADE')
    agent_id: int
    reason = CharField(max_length=255)
    created_at = DateTimeField(default=utcnow)
    handled_at = DateTimeField(null=True)



