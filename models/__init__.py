"""peewee models on one base and one `DatabaseProxy`; the schema itself is built by `models/migrations/`."""
from .agent import Agent
from .billing import CompGrant, EntitlementLoss, StripeCustomer, Subscription
from .database import (
    MAX_ID,
    BaseModel,
    db,
    exclusive_pass,
    is_sqlite,
    migrate,
    open_database,
    parse_id,
    read_transaction,
    utcnow,
    valid_id,
    write_transaction,
)
from .jobs import JobEvent, ProvisioningJob
from .runtime import AgentApiKey, AgentLogLine, AgentRevision, AgentUsage, RuntimeBoot, RuntimeToken
from .statuses import (
    AGENT_STATUSES,
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    EVENT_STATUSES,
    FINISHED_JOB_STATUSES,
    GOOD_STANDING_STATUSES,
    JOB_KINDS,
    JOB_STATUSES,
    LIVE_SUBSCRIPTION_STATUSES,
    OPEN_JOB_STATUSES,
    AgentHealth,
    AgentStatus,
    EventStatus,
    JobKind,
    JobStatus,
    SubscriptionStatus,
)
from .user import ApiToken, User
from .webhooks import WebhookDelivery, WebhookEvent

ALL_MODELS = [User, ApiToken, Agent, StripeCustomer, Subscription, CompGrant, EntitlementLoss, WebhookEvent,
    WebhookDelivery, ProvisioningJob, JobEvent, AgentRevision, RuntimeToken, AgentApiKey, RuntimeBoot, AgentUsage,
    AgentLogLine]

__all__ = [
    'AGENT_STATUSES', 'ALL_MODELS', 'COUNTED_STATUSES', 'EDITABLE_STATUSES', 'EVENT_STATUSES', 'FINISHED_JOB_STATUSES',
    'GOOD_STANDING_STATUSES', 'JOB_KINDS', 'JOB_STATUSES', 'LIVE_SUBSCRIPTION_STATUSES', 'MAX_ID', 'OPEN_JOB_STATUSES',
    'Agent', 'AgentApiKey', 'AgentHealth', 'AgentLogLine', 'AgentRevision', 'AgentStatus', 'AgentUsage', 'ApiToken',
    'BaseModel', 'CompGrant', 'EntitlementLoss', 'EventStatus', 'JobEvent', 'JobKind', 'JobStatus', 'ProvisioningJob',
    'RuntimeBoot', 'RuntimeToken', 'StripeCustomer', 'Subscription', 'SubscriptionStatus', 'User', 'WebhookDelivery',
    'WebhookEvent', 'db', 'exclusive_pass', 'is_sqlite', 'migrate', 'open_database', 'parse_id', 'read_transaction',
    'utcnow', 'valid_id', 'write_transaction',
]
