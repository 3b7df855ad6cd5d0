"""The subscription gate: the one place that decides whether a user may deploy one more agent.

Every path that can start provisioning calls `check_can_deploy`: the Deploy button, the JSON API and
per-agent checkout fulfilment. Call it inside the transaction that queues the job, so two deploys at the
limit cannot both pass.
"""
from models import Agent, User

from ..platform.errors import DomainError
from ..platform.settings import get_settings
from . import entitlements
from .plans import billing_is_configured


class GateError(DomainError):
    pass


def check_can_deploy(*, user: User, agent: Agent) -> None:
    """Raise GateError unless `user` may have `agent` running in addition to the agents already counted."""
    entitlement = entitlements.entitlement_for(user)
    if agent.id in entitlement.paid_agent_ids:
        return
    if not entitlement.is_entitled:
        if not billing_is_configured():
            raise GateError('BILLING_NOT_CONFIGURED', 'Billing is not set up yet, so agents cannot be deployed. '
                                                      'The operator must set STRIPE_SECRET_KEY and the '
                                                      'STRIPE_PRICE_* settings.')
        if get_settings().billing_mode == 'per_agent':
            raise GateError('NO_ACTIVE_SUBSCRIPTION', 'This agent is not paid for yet: pay for it (its own '
                                                      'subscription) first; Settings (/settings) lists your '
                                                      'billing.')
        raise GateError('NO_ACTIVE_SUBSCRIPTION', 'Deploying needs an active subscription. Choose a plan in '
                                                  'Settings (/settings).')
    used = entitlements.agents_used(user, excluding=agent.id)
    if used >= entitlement.agents_allowed:
        raise GateError('AGENT_LIMIT_REACHED', f'Your {entitlement.plan} plan allows {entitlement.agents_allowed} '
                                               f'agent(s) and {used} are in use (a failed agent counts until its '
                                               'server is removed). Stop or delete one, or upgrade in '
                                               'Settings (/settings).')
