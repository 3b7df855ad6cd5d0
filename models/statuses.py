"""Every status the application stores, as `StrEnum`s: members compare equal to the strings in the database and
in JSON, so a typo is an `AttributeError` at import time instead of a silent mismatch."""
from enum import StrEnum


class AgentStatus(StrEnum):
    DRAFT = 'draft'
    PROVISIONING = 'provisioning'
    RUNNING = 'running'
    FAILED = 'failed'
    STOPPING = 'stopping'
    STOPPED = 'stopped'
    DELETING = 'deleting'
    DELETED = 'deleted'


class JobStatus(StrEnum):
    QUEUED = 'queued'
    DISPATCHING = 'dispatching'
    DISPATCHED = 'dispatched'
    IN_PROGRESS = 'in_progress'
    SUCCEEDED = 'succeeded'
    FAILED = 'failed'
    CANCELLED = 'cancelled'


class JobKind(StrEnum):
    PROVISION = 'provision'
    DEPROVISION = 'deprovision'


class EventStatus(StrEnum):
    """Where a stored webhook event stands in processing."""
    PENDING = 'pending'
    PROCESSING = 'processing'
    """A worker holds the event until its lease (`next_attempt_at`) runs out."""
    PROCESSED = 'processed'
    FAILED = 'failed'
    IGNORED = 'ignored'


class SubscriptionStatus(StrEnum):
    """A subscription's status as Stripe names it (stored as Stripe sends it), plus the app's own `comp`."""
    INCOMPLETE = 'incomplete'
    INCOMPLETE_EXPIRED = 'incomplete_expired'
    TRIALING = 'trialing'
    ACTIVE = 'active'
    PAST_DUE = 'past_due'
    CANCELED = 'canceled'
    UNPAID = 'unpaid'
    PAUSED = 'paused'
    COMP = 'comp'
    """Never from Stripe nor in the subscriptions table: an entitlement (and `GET /api/billing`) reports a
    complimentary grant with it."""


class AgentHealth(StrEnum):
    """What the heartbeats say about a running agent."""
    UNKNOWN = 'unknown'
    HEALTHY = 'healthy'
    DEGRADED = 'degraded'
    UNREACHABLE = 'unreachable'


AGENT_STATUSES = tuple(AgentStatus)
EDITABLE_STATUSES = (AgentStatus.DRAFT, AgentStatus.STOPPED)
COUNTED_STATUSES = (AgentStatus.PROVISIONING, AgentStatus.RUNNING, AgentStatus.STOPPING, AgentStatus.DELETING)
"""Agents in these states use up the plan's agent allowance: their server may exist (a failed agent counts too
while a server may be left; `services.billing.entitlements.counted_agents` decides that)."""
JOB_STATUSES = tuple(JobStatus)
OPEN_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.DISPATCHING, JobStatus.DISPATCHED, JobStatus.IN_PROGRESS)
FINISHED_JOB_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
JOB_KINDS = tuple(JobKind)
EVENT_STATUSES = tuple(EventStatus)
GOOD_STANDING_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING)
"""Subscriptions in these states entitle without condition; past_due does only within the grace."""
LIVE_SUBSCRIPTION_STATUSES = (*GOOD_STANDING_STATUSES, SubscriptionStatus.PAST_DUE)
"""Stripe still charges for subscriptions in these states: a second one next to them would bill twice."""
