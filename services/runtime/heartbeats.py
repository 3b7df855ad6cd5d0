"""Heartbeats: what a runtime says about itself every `AGENT_HEARTBEAT_SECONDS`.

Usage arrives as totals since the runtime's boot, so only the increase over what that boot reported before is
counted: a repeated heartbeat adds nothing, a lost one is made up by the next, and a new boot starts from zero.
"""
from collections.abc import Sequence
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
from ..platform.group_commit import GroupCommit
from ..platform.inputs import text_problem
from . import api_keys, revisions, tokens, usage
from .errors import RuntimeControlError

STATUSES = {'ok': AgentHealth.HEALTHY, 'degraded': AgentHealth.DEGRADED}
MESSAGE_LIMIT = 500
BOOT_ID_LIMIT = 64
COUNTER_LIMIT = 2**62
HEARTBEAT_COLUMNS = (Agent.id, Agent.owner, Agent.name, Agent.config_revision, Agent.applied_revision, Agent.health,
                     Agent.health_message, Agent.unreachable_since)
"""What a heartbeat compares and tells: the narrow read keeps the hot path cheap."""


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


@dataclass
class Applied:
    """What one heartbeat did, told to pages and owners once the transaction committed."""
    agent: Agent
    revision: int
    changed: bool = False
    recovered: bool = False

    def tell(self) -> None:
        if self.recovered:
            notifications.agent_recovered(self.agent)
        if self.changed or self.recovered:
            events.agent_updated(self.agent.owner_id, self.agent.id)


def record_heartbeat(agent_id: int, body: dict) -> int:
    """Apply one heartbeat; returns the agent's newest config revision (the runtime fetches it when it is newer), 0
    for an agent deleted meanwhile."""
    answer = apply_presented([(agent_id, parse_heartbeat(body))])[0]
    return answer if isinstance(answer, int) else 0


def apply_presented(beats: Sequence[tuple[int | str | None, Heartbeat]]) -> list[int | RuntimeControlError]:
    """Apply heartbeats, each with its agent id or the `Authorization` its runtime presented (checked here, in the
    same thread hop), in one write transaction. Each answer is the agent's newest revision, or the error that one
    heartbeat gets (a wrong token) without failing the others."""
    answers: list[int | RuntimeControlError] = []
    applied: list[Applied] = []
    with write_transaction():
        for presented, beat in beats:
            try:
                agent_id = presented if isinstance(presented, int) else tokens.agent_id_for(presented)
            except RuntimeControlError as error:
                answers.append(error)
                continue
            outcome = apply_heartbeat(agent_id, beat)
            answers.append(outcome.revision if outcome is not None else 0)
            if outcome is not None:
                applied.append(outcome)
    for outcome in applied:
        outcome.tell()
    return answers


def apply_heartbeat(agent_id: int, beat: Heartbeat) -> Applied | None:
    """Inside the transaction: health, applied revision, usage, key use, and a recovery after silence."""
    agent = Agent.select(*HEARTBEAT_COLUMNS).where(Agent.id == agent_id).first()
    if agent is None:
        return None
    now = utcnow()
    fields = {'last_heartbeat_at': now, 'health': beat.health, 'health_message': beat.message,
              'applied_revision': beat.revision}
    if count_usage(agent_id, beat):
        fields['runtime_started_at'] = now
    Agent.update(**fields).where(Agent.id == agent_id).execute()
    api_keys.note_key_use(agent_id, beat.keys_used)
    changed = 'runtime_started_at' in fields or \
        (agent.applied_revision, agent.health, agent.health_message) != (beat.revision, beat.health, beat.message)
    recovered = agent.unreachable_since is not None and note_recovery(agent)
    return Applied(agent, agent.config_revision, changed, recovered)


group_commit: GroupCommit[tuple[str | None, Heartbeat], int] = GroupCommit('heartbeats', apply_presented)
"""Heartbeats arriving together share one transaction: `await group_commit.submit((authorization, beat))`."""


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
    first heartbeat of a new boot (the runtime just started). The boot's row is read first and inserted only when
    missing, and usage is written only when it grew: most heartbeats of an idle agent cost two statements."""
    boot = locked_boot(agent_id, beat.boot_id)
    new_boot = boot is None
    if new_boot:
        RuntimeBoot.insert(agent=agent_id, boot_id=beat.boot_id).on_conflict_ignore().execute()
        boot = locked_boot(agent_id, beat.boot_id)
    assert boot is not None
    if beat.seq <= boot.last_seq:
        return new_boot  # a repeat, or one overtaken by a later heartbeat
    increase = {field: max(0, beat.totals[field] - getattr(boot, field)) for field in usage.USAGE_FIELDS}
    totals = {field: max(getattr(boot, field), beat.totals[field]) for field in usage.USAGE_FIELDS}
    RuntimeBoot.update(last_seq=beat.seq, **totals).where(RuntimeBoot.id == boot.id).execute()
    if any(increase.values()):
        usage.add_usage(agent_id, revisions.model_of(agent_id, beat.revision), increase)
    return new_boot


def locked_boot(agent_id: int, boot_id: str) -> RuntimeBoot | None:
    """The boot's row, locked on PostgreSQL so two heartbeats of one boot count once (SQLite's writer lock does)."""
    query = RuntimeBoot.select().where((RuntimeBoot.agent == agent_id) & (RuntimeBoot.boot_id == boot_id))
    return (query if is_sqlite() else query.for_update()).first()
