"""Config revisions: every saved change to what the runtime serves is a new, numbered revision.

The agent row holds the newest number (`config_revision`); `AgentRevision` keeps each revision's name, description,
model and system prompt, so the usage of a revision is billed to the model it ran, and the page can say which
revision the runtime applied. A change of the agent's API keys is a revision too: it reaches a connected runtime the
same way, by the long poll waking on a newer number.
"""
from models import Agent, AgentRevision, utcnow

from ..platform import events

REVISION_FIELDS = ('name', 'description', 'model', 'system_prompt')
REDEPLOY_FIELDS = ('region', 'size')


def record_first(agent: Agent) -> None:
    """Revision 1 of a new agent; inside the transaction that created it."""
    AgentRevision.create(agent=agent.id, revision=agent.config_revision,
                         **{field: getattr(agent, field) for field in REVISION_FIELDS})


def changes_config(agent: Agent, fields: dict[str, str]) -> bool:
    return any(field in fields and fields[field] != getattr(agent, field) for field in REVISION_FIELDS)


def record_new(agent_id: int) -> int:
    """A new revision from the agent row as it is now (inside the caller's write transaction, after its update);
    returns its number."""
    Agent.update(config_revision=Agent.config_revision + 1, updated_at=utcnow()).where(Agent.id == agent_id).execute()
    agent = Agent.get_by_id(agent_id)
    AgentRevision.create(agent=agent_id, revision=agent.config_revision,
                         **{field: getattr(agent, field) for field in REVISION_FIELDS})
    return agent.config_revision


def announce_new(agent: Agent) -> None:
    """After the commit: wake the runtime's long poll and refresh the agent's open pages."""
    events.config_changed(agent.id)
    events.agent_updated(agent.owner_id, agent.id)
