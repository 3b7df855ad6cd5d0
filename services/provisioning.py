"""Provisioning requests: Deploy goes through the gate before anything is queued."""
from models import Agent, User

from . import gate
from .agents import AgentError, get_agent
from .errors import DomainError
from .settings import get_settings

DEPLOYABLE_STATUSES = ('draft', 'stopped', 'failed')


class ProvisioningError(DomainError):
    pass


def provisioning_is_configured() -> bool:
    settings = get_settings()
    return bool(settings.github_token and settings.github_repository and settings.callback_secret)


def request_deploy(*, owner: User, agent_id: int, idempotency_key: str | None = None) -> dict:
    """Check the agent, the configuration and the gate; the queued job comes with the provisioning work."""
    agent: Agent = get_agent(owner=owner, agent_id=agent_id)
    if agent.status not in DEPLOYABLE_STATUSES:
        raise AgentError('AGENT_NOT_DEPLOYABLE', f'The agent is {agent.status}; only draft, stopped or failed '
                                                 'agents can be deployed.')
    gate.check_can_deploy(user=owner, agent=agent)
    if not provisioning_is_configured():
        raise ProvisioningError('PROVISIONING_NOT_CONFIGURED', 'Provisioning is not set up yet. The operator must '
                                                               'set GITHUB_TOKEN, GITHUB_REPOSITORY and '
                                                               'CALLBACK_SECRET.')
    raise ProvisioningError('PROVISIONING_NOT_CONFIGURED', 'Provisioning jobs are not available in this version.')
