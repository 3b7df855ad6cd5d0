"""Agents as their owners see them: the configuration rules shared by the wizard and the API, owner-scoped lookups,
create and update. Delete is part of the lifecycle (`commands.request_delete`); this module imports nothing from the
rest of provisioning, which builds on it."""
import re

from models import EDITABLE_STATUSES, Agent, AgentStatus, User, is_sqlite, utcnow, valid_id, write_transaction

from ..platform import model_providers
from ..platform.errors import DomainError
from ..platform.inputs import text_problem
from ..platform.settings import get_settings
from ..runtime import revisions

NAME_PATTERN = re.compile(r'^[\w .-]{1,64}$')
TEXT_LIMITS = {'description': 1000, 'system_prompt': 20000}
CHOICE_FIELDS = ('model', 'region', 'size')
AGENT_FIELDS = ('name', 'description', 'model', 'system_prompt', 'region', 'size')


class AgentError(DomainError):
    pass


def choices(field: str) -> list[str]:
    """The values offered for `model` (those whose provider is set up), `region` or `size`; the first is the
    default."""
    settings = get_settings()
    if field == 'model':
        return model_providers.offered_models()
    return {'region': settings.agent_regions, 'size': settings.agent_sizes}[field]


def model_problem(model: str) -> str | None:
    if model in choices('model'):
        return None
    if not choices('model'):
        return model_providers.NONE_CONFIGURED
    if model in get_settings().agent_models:
        kind = model_providers.kind_of(model)
        setting = 'ANTHROPIC_API_KEY' if kind == 'anthropic' else 'OPENAI_API_KEY or OPENAI_BASE_URL'
        return f'{model} needs {setting}, which is not set; choose one of: {", ".join(choices("model"))}.'
    return f'Choose one of: {", ".join(choices("model"))}.'


def validate_field(field: str, value: object) -> str | None:
    """The problem with one field's value as a sentence, or None (the wizard shows it next to the field)."""
    if not isinstance(value, str):
        return f'{field} must be text.'
    if problem := text_problem(value, multiline=field in TEXT_LIMITS):
        return problem
    if field == 'name':
        if not value.strip():
            return 'Give the agent a name.'
        if not NAME_PATTERN.match(value.strip()):
            return 'Use 1–64 letters, digits, spaces, dashes, underscores or dots.'
    elif field in TEXT_LIMITS and len(value) > TEXT_LIMITS[field]:
        return f'Use at most {TEXT_LIMITS[field]} characters.'
    elif field == 'model':
        return model_problem(value)
    elif field in CHOICE_FIELDS and value not in choices(field):
        return f'Choose one of: {", ".join(choices(field))}.'
    return None


def clean_fields(data: object, *, partial: bool) -> dict[str, str]:
    """Checked agent fields from untrusted input; a full set gets defaults, a partial one (PATCH) does not."""
    if not isinstance(data, dict):
        raise AgentError('INVALID_INPUT', 'The body must be a JSON object.')
    for key in data:
        if key not in AGENT_FIELDS:
            raise AgentError('INVALID_INPUT', f'Unknown field {key!r}; allowed: {", ".join(AGENT_FIELDS)}.',
                             field=str(key))
    if not partial:
        defaults = {field: options[0] for field in CHOICE_FIELDS if (options := choices(field))}
        data = {'model': '', **defaults, 'name': '', **data}
    for field, value in data.items():
        problem = validate_field(field, value)
        if problem:
            raise AgentError('INVALID_INPUT', problem, field=field)
    return {field: value.strip() if field == 'name' else value for field, value in data.items()}


def create_agent(*, owner: User, data: object) -> Agent:
    fields = clean_fields(data, partial=False)
    with write_transaction():
        agent = Agent.create(owner=owner, **fields)
        revisions.record_first(agent)
    return agent


def list_agents(*, owner: User) -> list[Agent]:
    return list(Agent.select().where((Agent.owner == owner) & (Agent.status != AgentStatus.DELETED))
                .order_by(Agent.created_at.desc(), Agent.id.desc()))


def owned_agent(owner: User, agent_id: int, *, lock: bool = False, include_deleted: bool = False) -> Agent:
    """The owner's agent; another user's, a deleted one or an id no row can have is reported as not found, revealing
    nothing.

    Every owner-scoped lookup (pages, API, lifecycle commands, per-agent checkout, subscription sync) goes through
    here. With `lock`, inside a write transaction, the row stays locked until the commit on PostgreSQL; SQLite's
    `BEGIN IMMEDIATE` already holds the whole database. `include_deleted` finds deleted agents too: a deleted agent's
    subscription must still name it.
    """
    if not valid_id(agent_id):
        raise AgentError('NOT_FOUND', f'There is no agent {agent_id}.')
    query = Agent.select().where((Agent.id == agent_id) & (Agent.owner == owner))
    if not include_deleted:
        query = query.where(Agent.status != AgentStatus.DELETED)
    agent = (query.for_update() if lock and not is_sqlite() else query).first()
    if agent is None:
        raise AgentError('NOT_FOUND', f'There is no agent {agent_id}.')
    return agent


def get_agent(*, owner: User, agent_id: int) -> Agent:
    """`owned_agent` in the keyword spelling the API routes call."""
    return owned_agent(owner, agent_id)


LIVE_STATUSES = (AgentStatus.RUNNING,)
"""A running agent takes a new name, description, model or prompt live, as a new config revision."""


def update_agent(*, owner: User, agent_id: int, data: object) -> Agent:
    fields = clean_fields(data, partial=True)
    with write_transaction():
        agent = owned_agent(owner, agent_id, lock=True)
        check_editable(agent, fields)
        updated = (Agent.update(**fields, updated_at=utcnow())
                   .where((Agent.id == agent.id) & (Agent.status == agent.status)).execute())
        if not updated:
            raise AgentError('AGENT_NOT_EDITABLE', 'The agent changed state meanwhile; reload and try again.')
        new_revision = revisions.changes_config(agent, fields)
        if new_revision:
            revisions.record_new(agent.id)
    agent = Agent.get_by_id(agent.id)
    if new_revision:
        revisions.announce_new(agent)
    return agent


def check_editable(agent: Agent, fields: dict[str, str]) -> None:
    if agent.status in EDITABLE_STATUSES:
        return
    if agent.status not in LIVE_STATUSES:
        raise AgentError('AGENT_NOT_EDITABLE', f'The agent is {agent.status}; wait until it is running or stopped '
                                               'to change its configuration.')
    moved = [field for field in revisions.REDEPLOY_FIELDS if field in fields and fields[field] != getattr(agent, field)]
    if moved:
        raise AgentError('REDEPLOY_REQUIRED', f'A running agent cannot change its {" or ".join(moved)}: it runs on a '
                                              'server there. Stop it, change it, and deploy it again.',
                         field=moved[0])
