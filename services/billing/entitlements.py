"""Who may run how many agents: subscriptions in good standing, past_due within the grace, comp grants.

Entitled means `active` or `trialing`, `past_due` for up to BILLING_GRACE_DAYS after it became
past_due, or a complimentary grant; every other status is not.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models import (
    COUNTED_STATUSES,
    GOOD_STANDING_STATUSES,
    Agent,
    AgentStatus,
    CompGrant,
    Subscription,
    SubscriptionStatus,
    User,
    utcnow,
)

from ..platform.settings import get_settings
from ..provisioning import servers
from .plans import PER_AGENT_PLAN, find_plan

MAYBE_COUNTED_STATUSES = (*COUNTED_STATUSES, AgentStatus.FAILED)
"""Agents in these states may count against the plan; `counted_agents` decides for the failed ones."""


@dataclass
class Entitlement:
    plan: str | None = None
    status: str | None = None
    period_end: datetime | None = None
    cancel_at_period_end: bool = False
    agents_allowed: int = 0
    paid_agent_ids: set[int] = field(default_factory=set)
    """In per_agent mode: the agents whose own subscription is in good standing."""

    @property
    def is_entitled(self) -> bool:
        return self.agents_allowed > 0 or bool(self.paid_agent_ids)


def subscription_is_entitled(subscription: Subscription, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if subscription.status in GOOD_STANDING_STATUSES:
        return True
    if subscription.status == SubscriptionStatus.PAST_DUE and subscription.past_due_since is not None:
        return now < subscription.past_due_since + timedelta(days=get_settings().billing_grace_days)
    return False


def active_grant(user: User, now: datetime | None = None) -> CompGrant | None:
    now = now or utcnow()
    return (CompGrant.select()
            .where((CompGrant.user == user) & CompGrant.revoked_at.is_null()
                   & (CompGrant.until.is_null() | (CompGrant.until > now)))
            .order_by(CompGrant.granted_at.desc()).first())


def entitlement_for(user: User, now: datetime | None = None) -> Entitlement:
    """The user's entitlement now; the largest plan wins when several apply."""
    now = now or utcnow()
    result = Entitlement()
    subscriptions = list(Subscription.select().where(Subscription.user == user)
                         .order_by(Subscription.created_at.desc()))
    for subscription in subscriptions:
        if subscription.plan == PER_AGENT_PLAN:
            if subscription_is_entitled(subscription, now) and subscription.agent_id:
                result.paid_agent_ids.add(subscription.agent_id)
            continue
        plan = find_plan(subscription.plan)
        entitled = subscription_is_entitled(subscription, now)
        if result.plan is None or (entitled and plan and plan.agents > result.agents_allowed):
            result.plan, result.status = subscription.plan, subscription.status
            result.period_end, result.cancel_at_period_end = (subscription.current_period_end,
                                                              subscription.cancel_at_period_end)
            result.agents_allowed = plan.agents if (entitled and plan) else 0
    grant = active_grant(user, now)
    grant_plan = find_plan(grant.plan) if grant else None
    if grant_plan and grant_plan.agents > result.agents_allowed:
        result.plan, result.status, result.period_end = grant_plan.name, SubscriptionStatus.COMP, grant.until
        result.cancel_at_period_end, result.agents_allowed = False, grant_plan.agents
    if result.paid_agent_ids and result.plan is None:
        result.plan, result.status = PER_AGENT_PLAN, SubscriptionStatus.ACTIVE
    return result


def counted_agents(user: User, *, excluding: int | None = None) -> list[Agent]:
    """Agents that count against the plan, oldest first: every agent whose server may exist.

    That is the agents in COUNTED_STATUSES, and failed ones until a deprovision confirms their server is gone (a
    cancelled or failed run may have left one). The gate, `GET /api/billing` and enforcement all count these.
    """
    query = Agent.select().where((Agent.owner == user) & Agent.status.in_(MAYBE_COUNTED_STATUSES))
    if excluding is not None:
        query = query.where(Agent.id != excluding)
    agents = list(query.order_by(Agent.created_at.asc(), Agent.id.asc()))
    left_servers = {agent.id for agent in servers.failed_with_servers(agents)}
    return [agent for agent in agents if agent.status in COUNTED_STATUSES or agent.id in left_servers]


def agents_used(user: User, *, excluding: int | None = None) -> int:
    return len(counted_agents(user, excluding=excluding))


def owners_with_counted_agents() -> list[User]:
    """Every user with an agent `counted_agents` may count: whom enforcement looks at on its tick."""
    return list(User.select().join(Agent, on=(Agent.owner == User.id))
                .where(Agent.status.in_(MAYBE_COUNTED_STATUSES)).distinct())
