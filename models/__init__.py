"""peewee models on one base and one `DatabaseProxy`; the schema itself is built by `models/migrations/`."""
from .agent import AGENT_STATUSES, COUNTED_STATUSES, EDITABLE_STATUSES, Agent
from .billing import CompGrant, EntitlementLoss, StripeCustomer, Subscription
from .database import MAX_ID, BaseModel, db, is_sqlite, migrate, open_database, utcnow, write_transaction
from .jobs import FINISHED_JOB_STATUSES, JOB_STATUSES, OPEN_JOB_STATUSES, JobEvent, ProvisioningJob
from .user import ApiToken, User
from .webhooks import WebhookDelivery, WebhookEvent

ALL_MODELS = [User, ApiToken, Agent, StripeCustomer, Subscription, CompGrant, EntitlementLoss, WebhookEvent,
              WebhookDelivery, ProvisioningJob, JobEvent]

__all__ = [
    'AGENT_STATUSES', 'ALL_MODELS', 'COUNTED_STATUSES', 'EDITABLE_STATUSES', 'FINISHED_JOB_STATUSES', 'JOB_STATUSES',
    'MAX_ID', 'OPEN_JOB_STATUSES', 'Agent', 'ApiToken', 'BaseModel', 'CompGrant', 'EntitlementLoss', 'JobEvent',
    'ProvisioningJob', 'StripeCustomer', 'Subscription', 'User', 'WebhookDelivery', 'WebhookEvent', 'db', 'is_sqlite',
    'migrate', 'open_database', 'utcnow', 'write_transaction',
]
