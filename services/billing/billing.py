"""Billing: Checkout and the customer portal, the one checkout fulfilment, subscription sync and enforcement.

Stripe is the truth. Whatever tells us something changed (a webhook, the return page, `stripe sync`), we
re-read the object from Stripe and store its current state, so late, repeated or reordered events all end in
the same row.
"""
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from peewee import fn
from stripe import StripeClient
from stripe.params.checkout import SessionCreateParams

from models import (
    LIVE_SUBSCRIPTION_STATUSES,
    Agent,
    AgentStatus,
    CompGrant,
    EntitlementLoss,
    JobKind,
    ProvisioningJob,
    StripeCustomer,
    Subscription,
    SubscriptionStatus,
    User,
    parse_id,
    utcnow,
    write_transaction,
)

from .. import provisioning
from ..platform import notifications
from ..platform.errors import DomainError
from ..platform.settings import get_settings
from ..platform.workers import once_across_instances
from ..provisioning.agents import AgentError, owned_agent
from . import entitlements, stripe_api
from .plans import PER_AGENT_PLAN, billing_is_configured, find_plan, plan_for_price, plans


class BillingError(DomainError):
    pass


@dataclass
class Fulfilment:
    """What a completed checkout did; the return page shows it."""
    user_id: int
    complete: bool
    plan: str | None = None
    agent_id: int | None = None
    deploy_error: DomainError | None = None


_subscription_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
"""One sync per subscription at a time, so a slower read of an older state cannot overwrite a newer one."""
REMOVING_STATUSES = (AgentStatus.STOPPING, AgentStatus.DELETING)
"""A deprovision is already under way for agents in these states."""


def grant_complimentary(*, user: User, plan: str, until: datetime | None = None, granted_by: str) -> CompGrant:
    """Entitle `user` to `plan` without payment (until `until`, or for good), recorded with who granted it."""
    if plan not in {p.name for p in plans()}:
        raise BillingError('INVALID_INPUT', f'Unknown plan {plan!r}; choose one of: '
                                            f'{", ".join(p.name for p in plans())}.', field='plan')
    return CompGrant.create(user=user, plan=plan, until=until, granted_by=granted_by)


def summary(user: User) -> dict:
    """The account's billing state in the shape of `GET /api/billing`."""
    entitlement = entitlements.entitlement_for(user)
    allowed = entitlement.agents_allowed + len(entitlement.paid_agent_ids)
    return {'plan': entitlement.plan, 'status': entitlement.status, 'period_end': entitlement.period_end,
            'cancel_at_period_end': entitlement.cancel_at_period_end,
            'agents_used': entitlements.agents_used(user), 'agents_allowed': allowed}


def start_checkout(*, user: User, plan: str | None = None, agent_id: object = None) -> str:
    """Create a Stripe Checkout Session for a plan (or, in per_agent mode, for one agent); returns its URL."""
    settings = get_settings()
    if not billing_is_configured():
        raise BillingError('BILLING_NOT_CONFIGURED', 'Billing is not set up on this installation yet.')
    metadata = {'user_id': str(user.id)}
    if settings.billing_mode == 'per_agent':
        agent = _agent_to_pay_for(user, agent_id)
        if _live_subscriptions(user).where(Subscription.agent == agent).exists():
            raise BillingError('ALREADY_SUBSCRIBED', 'This agent is already paid for; manage its subscription '
                                                     'with "Manage billing".')
        price, metadata['agent_id'], metadata['plan'] = settings.stripe_price_agent, str(agent.id), PER_AGENT_PLAN
        cancel_url = f'{settings.public_url}/agents/{agent.id}'
    else:
        chosen = find_plan(plan or '')
        if chosen is None or chosen.name == PER_AGENT_PLAN:
            raise BillingError('INVALID_INPUT', f'Choose a plan: {", ".join(p.name for p in plans())}.',
                               field='plan')
        current = _live_subscriptions(user).where(Subscription.plan != PER_AGENT_PLAN).first()
        if current is not None:
            raise BillingError('ALREADY_SUBSCRIBED', f'You already have the {current.plan} plan; change it with '
                                                     '"Manage billing" so you are not charged twice.')
        price, metadata['plan'] = chosen.price_id, chosen.name
        cancel_url = f'{settings.public_url}/settings'
    params: SessionCreateParams = {'mode': 'subscription', 'client_reference_id': str(user.id),
              'line_items': [{'price': price, 'quantity': 1}], 'metadata': metadata,
              'subscription_data': {'metadata': metadata},
              'success_url': f'{settings.public_url}/billing/return?session_id={{CHECKOUT_SESSION_ID}}',
              'cancel_url': cancel_url}
    customer_id = _customer_id(user)
    if customer_id:
        params['customer'] = customer_id
    else:
        params['customer_email'] = user.email
    session = stripe_api.call(lambda stripe: stripe.v1.checkout.sessions.create(params))
    return session['url']


def open_portal(*, user: User) -> str:
    """A Stripe customer portal session for managing payment methods, plan changes and cancellation."""
    customer_id = _customer_id(user)
    if not customer_id:
        raise BillingError('NO_BILLING_ACCOUNT', 'There is no billing account yet: subscribe to a plan first.')
    return_url = f'{get_settings().public_url}/settings'
    portal = stripe_api.call(lambda stripe: stripe.v1.billing_portal.sessions.create(
        {'customer': customer_id, 'return_url': return_url}))
    return portal['url']


def fulfil_checkout(session_id: str, *, expected_user: User | None = None) -> Fulfilment:
    """Apply a completed Checkout Session; idempotent, shared by the webhook and the return page."""
    session = stripe_api.call(lambda stripe: stripe.v1.checkout.sessions.retrieve(session_id))
    user = _user_for_reference(session.get('client_reference_id'))
    if user is None or (expected_user is not None and user.id != expected_user.id):
        raise BillingError('NOT_FOUND', 'This checkout does not belong to your account.')
    if session.get('status') != 'complete':
        return Fulfilment(user_id=user.id, complete=False)
    if session.get('customer'):
        _link_customer(user, session['customer'])
    subscription = sync_subscription(session['subscription']) if session.get('subscription') else None
    result = Fulfilment(user_id=user.id, complete=True, plan=subscription.plan if subscription else None)
    agent_id = parse_id((session.get('metadata') or {}).get('agent_id'))
    if agent_id and subscription and entitlements.subscription_is_entitled(subscription):
        result.agent_id = agent_id
        try:
            provisioning.request_deploy(owner=user, agent_id=agent_id, idempotency_key=session_id)
        except DomainError as error:
            result.deploy_error = error
    return result


def sync_subscription(subscription_id: str) -> Subscription:
    """Store Stripe's current state of one subscription, then enforce its owner's entitlement."""
    with _subscription_locks[subscription_id]:
        remote = stripe_api.call(lambda stripe: stripe.v1.subscriptions.retrieve(subscription_id))
        user = _owner_of(remote)
        stored = _store_subscription(user, remote)
    enforce_entitlement(user)
    return stored


def _subscriptions_of(customer_id: str, stripe: StripeClient) -> object:
    """Every subscription of the customer, canceled ones too (a cancellation whose event never came)."""
    return stripe.v1.subscriptions.list({'customer': customer_id, 'status': 'all', 'limit': 100})


def _cancel_subscription(subscription_id: str, stripe: StripeClient) -> object:
    return stripe.v1.subscriptions.cancel(subscription_id)


def sync_all() -> int:
    """Re-read every known customer's subscriptions from Stripe (`python main.py stripe sync`)."""
    count = 0
    for customer in list(StripeCustomer.select()):
        listing = stripe_api.call(partial(_subscriptions_of, customer.customer_id))
        for remote in listing.get('data', []):
            sync_subscription(remote['id'])
            count += 1
    return count


def enforce_entitlement(user: User) -> list[Agent]:
    """Queue stopping for the agents the user is no longer entitled to: failed ones with a server left go first,
    then the newest; agents already being removed still count, but need no second stop."""
    entitlement = entitlements.entitlement_for(user)
    unpaid = [agent for agent in entitlements.counted_agents(user) if agent.id not in entitlement.paid_agent_ids]
    staying = sorted((agent for agent in unpaid if agent.status not in REMOVING_STATUSES),
                     key=lambda agent: agent.status == AgentStatus.FAILED)  # stable: oldest first within each group
    extras = staying[entitlement.agents_allowed:]
    reason = ('the subscription ended' if not entitlement.is_entitled
              else f'the {entitlement.plan} plan allows {entitlement.agents_allowed} agent(s)')
    return [agent for agent in extras if _queue_stop_for_billing(agent, reason)]


@once_across_instances('subscription cleanup', skipped=0)
def cancel_subscriptions_of_deleted_agents() -> int:
    """A deleted agent must not be billed again: cancel its per-agent subscription at Stripe (the worker's tick)."""
    orphans = list(Subscription.select().join(Agent, on=(Subscription.agent == Agent.id))
                   .where((Agent.status == AgentStatus.DELETED) & (Subscription.plan == PER_AGENT_PLAN)
                          & Subscription.status.in_(LIVE_SUBSCRIPTION_STATUSES)))
    for subscription in orphans:
        stripe_api.call(partial(_cancel_subscription, subscription.subscription_id))
        sync_subscription(subscription.subscription_id)
    return len(orphans)


@once_across_instances('grace-period enforcement', skipped=0)
def enforce_all_entitlements() -> int:
    """Run enforcement for every user with counted agents; past_due grace ends without any event, so tick."""
    return sum(len(enforce_entitlement(user)) for user in entitlements.owners_with_counted_agents())


def _queue_stop_for_billing(agent: Agent, reason: str) -> bool:
    """Record the loss once per agent (audit trail) and queue the agent's stop with the reason."""
    with write_transaction():
        already = EntitlementLoss.select().where((EntitlementLoss.agent == agent)
                                                 & EntitlementLoss.handled_at.is_null()).exists()
        if not already:
            EntitlementLoss.create(agent=agent, reason=reason)
    if already:
        return False
    provisioning.request_stop(owner=agent.owner, agent_id=agent.id, reason=f'Stopped because {reason}.')
    if not _owner_already_told(agent):
        notifications.agent_stopped_for_billing(agent, reason)
    EntitlementLoss.update(handled_at=utcnow()).where(EntitlementLoss.agent == agent).execute()
    return True


def _owner_already_told(agent: Agent) -> bool:
    """Whether a stop of this deployment was already mailed: a stop retried after it failed is no news to the owner."""
    deployed = (ProvisioningJob.select(fn.MAX(ProvisioningJob.created_at))
                .where((ProvisioningJob.agent == agent) & (ProvisioningJob.kind == JobKind.PROVISION)).scalar())
    earlier = EntitlementLoss.select().where((EntitlementLoss.agent == agent)
                                             & EntitlementLoss.handled_at.is_null(False))
    return (earlier if deployed is None else earlier.where(EntitlementLoss.created_at >= deployed)).exists()


def _store_subscription(user: User, remote: dict) -> Subscription:
    item = (remote.get('items') or {}).get('data', [{}])[0]
    price_id = (item.get('price') or {}).get('id', '')
    plan = plan_for_price(price_id)
    metadata = remote.get('metadata') or {}
    status = remote['status']
    existing = Subscription.get_or_none(Subscription.subscription_id == remote['id'])
    past_due_since = None
    if status == SubscriptionStatus.PAST_DUE:
        past_due_since = (existing.past_due_since if existing and existing.status == SubscriptionStatus.PAST_DUE
                          else utcnow())
    fields = {'user': user, 'customer_id': remote['customer'], 'price_id': price_id, 'status': status,
              'plan': plan.name if plan else metadata.get('plan', 'unknown'),
              'current_period_end': _from_unix(item.get('current_period_end')),
              'cancel_at_period_end': bool(remote.get('cancel_at_period_end')), 'past_due_since': past_due_since,
              'agent': _paid_agent(user, metadata.get('agent_id')), 'updated_at': utcnow()}
    (Subscription.insert(subscription_id=remote['id'], **fields)
     .on_conflict(conflict_target=[Subscription.subscription_id],
                  update={getattr(Subscription, name): value for name, value in fields.items()}).execute())
    return Subscription.get(Subscription.subscription_id == remote['id'])


def _owner_of(remote: dict) -> User:
    customer = StripeCustomer.get_or_none(StripeCustomer.customer_id == remote['customer'])
    if customer is not None:
        return customer.user
    user = _user_for_reference((remote.get('metadata') or {}).get('user_id'))
    if user is None:
        raise BillingError('UNKNOWN_CUSTOMER', f'Subscription {remote["id"]} belongs to Stripe customer '
                                               f'{remote["customer"]}, which no account here is linked to.')
    _link_customer(user, remote['customer'])
    return user


def _link_customer(user: User, customer_id: str) -> None:
    StripeCustomer.insert(user=user, customer_id=customer_id).on_conflict_ignore().execute()


def _customer_id(user: User) -> str | None:
    customer = StripeCustomer.get_or_none(StripeCustomer.user == user)
    return customer.customer_id if customer else None


def _user_for_reference(reference: str | None) -> User | None:
    user_id = parse_id(reference)
    return User.get_or_none(User.id == user_id) if user_id else None


def _agent_to_pay_for(user: User, agent_id: object) -> Agent:
    """The user's agent named by untrusted input; anything else is a mistake in the checkout request."""
    try:
        return owned_agent(user, parse_id(agent_id) or 0)
    except AgentError as error:
        raise BillingError('INVALID_INPUT', 'Choose one of your agents to pay for.', field='agent_id') from error


def _paid_agent(user: User, agent_id: object) -> Agent | None:
    """The agent a per-agent subscription pays for, deleted ones included: their subscription must still be found."""
    number = parse_id(agent_id)
    if number is None:
        return None
    try:
        return owned_agent(user, number, include_deleted=True)
    except AgentError:
        return None


def _from_unix(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _live_subscriptions(user: User):
    """Subscriptions Stripe still charges for: a new Checkout next to one of these would bill twice."""
    return Subscription.select().where((Subscription.user == user)
                                       & Subscription.status.in_(LIVE_SUBSCRIPTION_STATUSES))


def has_live_plan(user: User) -> bool:
    return _live_subscriptions(user).where(Subscription.plan != PER_AGENT_PLAN).exists()


def has_customer(user: User) -> bool:
    return _customer_id(user) is not None


def grace_ends(user: User) -> datetime | None:
    """When a past_due subscription stops counting as entitled, for the Settings page's warning."""
    subscription = (Subscription.select()
                    .where((Subscription.user == user) & (Subscription.status == SubscriptionStatus.PAST_DUE))
                    .order_by(Subscription.past_due_since.desc()).first())
    if subscription is None or subscription.past_due_since is None:
        return None
    return subscription.past_due_since + timedelta(days=get_settings().billing_grace_days)
