"""Heartbeats: what a runtime says about itself every `AGENT_HEARTBEAT_SECONDS`.

Usage arrives as totals since the runtime's boot, so only the increase over what that boot reported before is
counted: a repeated heartbeat adds nothing, a lost one is made up by the next, and a new boot starts from zero.
"""
from dataclasses import dataclass

from models import (
    Agent,
    AgentHealth,
    JobEvent,
    ProvisioningJob,
    RuntimeBoot,
    is_sqlite,
    utcnow,
    valid_id,
    write_transaction,
)

from ..platform import events, notifications
from ..platform.inputs import text_problem
from . import api_keys, revisions, usage
from .errors import RuntimeControlError

STATUSES = {'ok': AgentHealth.HEALTHY, 'degraded': AgentHealth.DEGRADED}
MESSAGE_LIMIT = 500
BOOT_ID_LIMIT = 64
COUNTER_LIMIT = 2**62


@dataclass(frozen=True)
class Heartbeat:
    boot_id: str
    seq: int
    revision: int | None
    health: AgentHealth
    message: str
    totals: dict[str, int]
    keys_used: dict[str, float]


def invalid(message: str, field: str) -> RuntimeControlError:
    return RuntimeControlError('INVALID_INPUT', message, field=field)


def _counter(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= COUNTER_LIMIT:
        raise invalid(f'{field} must be a whole number from 0.', field)
    return value


def parse_heartbeat(body: dict) -> Heartbeat:
    boot_id, seq, revision = body.get('boot_id'), body.get('seq'), body.get('revision')
    if not isinstance(boot_id, str) or not boot_id or len(boot_id) > BOOT_ID_LIMIT or text_problem(boot_id):
        raise invalid(f'boot_id must be text of 1–{BOOT_ID_LIMIT} characters.', 'boot_id')
    if _counter(seq, 'seq') < 1:
        raise invalid('seq must start at 1.', 'seq')
    if revision is not None and not valid_id(revision):
        raise invalid('revision must be a revision number or null.', 'revision')
    status, message = body.get('status'), body.get('message', '')
    if status not in STATUSES:
        raise invalid(f'status must be one of: {", ".join(STATUSES)}.', 'status')
    if not isinstance(message, str) or text_problem(message, multiline=True):
        raise invalid('message must be text.', 'message')
    totals = body.get('usage') or {}
    if not isinstance(totals, dict):
        raise invalid('usage must be an object.', 'usage')
    used = body.get('api_keys_used') or {}
    if not isinstance(used, dict):
        raise invalid('api_keys_used must be an object of key id to unix time.', 'api_keys_used')
    return Heartbeat(boot_id, seq, revision, STATUSES[status], message[:MESSAGE_LIMIT],
                     {field: _counter(totals.get(field, 0), f'usage.{field}') for field in usage.USAGE_FIELDS},
                     used)


def record_heartbeat(agent_id: int, body: dict) -> int:
    """Apply one heartbeat; returns the agent's newest config revision (the runtime fetches it when it is newer)."""
    beat = parse_heartbeat(body)
    with write_transaction():
        agent = Agent.get_by_id(agent_id)
        now = utcnow()
        fields = {'last_heartbeat_at': now, 'health': beat.health, 'health_message': beat.message,
                  'applied_revision': beat.revision}
        if count_usage(agent_id, beat):
            fields['runtime_started_at'] = now
        Agent.update(**fields).where(Agent.id == agent_id).execute()
        recovered = agent.unreachable_since is not None and note_recovery(agent)
    api_keys.record_key_use(agent_id, beat.keys_used)
    if recovered:
        notifications.agent_recovered(agent)
    if recovered or 'runtime_started_at' in fields or (agent.applied_revision, agent.health, agent.health_message) \
            != (beat.revision, beat.health, beat.message):
        events.agent_updated(agent.owner_id, agent_id)
    return agent.config_revision


def note_recovery(agent: Agent) -> bool:
    """Inside the transaction: the first heartbeat after the agent was unreachable says so on its timeline, once
    (the conditional update lets only one of two concurrent heartbeats through)."""
    if not Agent.update(unreachable_since=None).where((Agent.id == agent.id)
                                                      & Agent.unreachable_since.is_null(False)).execute():
        return False
    job = ProvisioningJob.select(ProvisioningJob.id).where(ProvisioningJob.agent == agent.id) \
        .order_by(ProvisioningJob.id.desc()).first()
    if job is not None:
        JobEvent.create(job=job.id, step='recovered', message='Heartbeats arrive again: the agent answers.')
    return True


def count_usage(agent_id: int, beat: Heartbeat) -> bool:
    """Inside the heartbeat's transaction: add what this boot reported beyond its earlier totals; True for the
    first heartbeat of a new boot (the runtime just started)."""
    new_boot = bool(RuntimeBoot.insert(agent=agent_id, boot_id=beat.boot_id).on_conflict_ignore()
                    .as_rowcount().execute())
    query = RuntimeBoot.select().where((RuntimeBoot.agent == agent_id) & (RuntimeBoot.boot_id == beat.boot_id))
    boot = (query if is_sqlite() else query.for_update()).get()  # two heartbeats of one boot count once
    if beat.seq <= boot.last_seq:
        return new_boot  # a repeat, or one overtaken by a later heartbeat
    increase = {field: max(0, beat.totals[field] - getattr(boot, field)) for field in usage.USAGE_FIELDS}
    totals = {field: max(getattr(boot, field), beat.totals[field]) for field in usage.USAGE_FIELDS}
    RuntimeBoot.update(last_seq=beat.seq, **totals).where(RuntimeBoot.id == boot.id).execute()
    usage.add_usage(agent_id, revisions.model_of(agent_id, beat.revision), increase)
    return new_boot
