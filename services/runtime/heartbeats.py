"""Heartbeats: what a runtime says about itself every `AGENT_HEARTBEAT_SECONDS`.

Usage arrives as totals since the runtime's boot, so only the increase over what that boot reported before is
counted: a repeated heartbeat adds nothing, a lost one is made up by the next, and a new boot starts from zero.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from models import Agent, AgentHealth, JobEvent, ProvisioningJob, utcnow, valid_id, write_transaction

from ..platform import events, notifications
from ..platform.group_commit import GroupCommit
from ..platform.inputs import text_problem
from . import api_keys, heartbeat_sql, tokens, usage
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


@dataclass
class AgentState:
    """An agent as its heartbeats in one batch find and leave it."""
    id: int
    owner_id: int
    name: str
    model: str
    config_revision: int
    applied_revision: int | None
    health: str
    health_message: str
    unreachable: bool
    started: bool = False
    changed: bool = False
    recovered: bool = False

    def __post_init__(self) -> None:
        self.unreachable = bool(self.unreachable)  # SQLite answers `IS NOT NULL` with 0 or 1

    def heard(self, beat: Heartbeat) -> None:
        self.changed |= (self.applied_revision, self.health, self.health_message) != \
            (beat.revision, beat.health, beat.message)
        self.applied_revision, self.health, self.health_message = beat.revision, beat.health, beat.message

    def tell(self) -> None:
        """After the commit: owners and pages hear what changed (a recovery is mailed once)."""
        agent = Agent(id=self.id, owner=self.owner_id, name=self.name)
        if self.recovered:
            notifications.agent_recovered(agent)
        if self.changed or self.started or self.recovered:
            events.agent_updated(self.owner_id, self.id)


@dataclass
class BootState:
    """A runtime boot's row: the totals it reported so far."""
    row_id: int
    last_seq: int
    totals: list[int]
    moved: bool = False


def record_heartbeat(agent_id: int, body: dict) -> int:
    """Apply one heartbeat; returns the agent's newest config revision (the runtime fetches it when it is newer), 0
    for an agent deleted meanwhile."""
    answer = apply_presented([(agent_id, parse_heartbeat(body))])[0]
    return answer if isinstance(answer, int) else 0


def apply_presented(beats: Sequence[tuple[int | str | None, Heartbeat]]) -> list[int | RuntimeControlError]:
    """Apply heartbeats, each with its agent id or the `Authorization` its runtime presented, in one write
    transaction and a fixed handful of statements. Each answer is the agent's newest revision (0 for an agent that
    is gone), or the error that one heartbeat gets (a wrong token) without failing the others."""
    with write_transaction():
        found = agents_presented([presented for presented, _ in beats])
        heard = [(found[presented], beat) for presented, beat in beats]
        known = [(agent, beat) for agent, beat in heard if isinstance(agent, AgentState)]
        now = utcnow()
        count_usage(known, now)
        for agent, beat in known:
            agent.heard(beat)
        agents = list({agent.id: agent for agent, _ in known}.values())
        save_agents(agents, now)
        for agent, beat in known:
            api_keys.note_key_use(agent.id, beat.keys_used)
        for agent in agents:
            agent.recovered = agent.unreachable and note_recovery(agent.id)
    for agent in agents:
        agent.tell()
    return [agent.config_revision if isinstance(agent, AgentState) else agent or 0 for agent, _ in heard]


Found = AgentState | RuntimeControlError | None
"""What a presented credential stands for: its agent, a refused token, or None for an agent id that is gone."""


def agents_presented(presented: Sequence[int | str | None]) -> dict[int | str | None, Found]:
    """What each presented agent id or `Authorization` stands for, read in one statement for each kind."""
    found: dict[int | str | None, Found] = {}
    hashes: dict[str, str | None] = {}
    for credential in presented:
        if isinstance(credential, int):
            continue
        token = tokens.token_presented(credential)
        if token is None:
            found[credential] = tokens.INVALID
        else:
            hashes[tokens.sha256_of(token)] = credential
    if hashes:
        for sha256, *columns in heartbeat_sql.agents_by_token(list(hashes)):
            found[hashes[sha256]] = AgentState(*columns)
    agent_ids = sorted({credential for credential in presented if isinstance(credential, int)})
    if agent_ids:
        for _, *columns in heartbeat_sql.agents_by_id(agent_ids):
            found[columns[0]] = AgentState(*columns)
    return {credential: found.get(credential, None if isinstance(credential, int) else tokens.INVALID)
            for credential in presented}


def save_agents(agents: list[AgentState], now: datetime) -> None:
    """Agents whose heartbeats told nothing new get only the time; the others their health, revision and start."""
    agents.sort(key=lambda agent: agent.id)  # PostgreSQL locks rows in the order they are written
    heartbeat_sql.touch_agents([agent.id for agent in agents if not (agent.changed or agent.started)], now)
    heartbeat_sql.update_agents([(now, str(agent.health), agent.health_message, agent.applied_revision,
                                  now if agent.started else None, agent.id)
                                 for agent in agents if agent.changed or agent.started])


group_commit: GroupCommit[tuple[str | None, Heartbeat], int] = GroupCommit('heartbeats', apply_presented,
                                                                            linger_seconds=0.2)
"""Heartbeats arriving within 0.2 s share one transaction: `await group_commit.submit((authorization, beat))`. No
runtime waits on its heartbeat's answer, so a fifth of a second buys batches of a dozen at 1,000 agents."""


def note_recovery(agent_id: int) -> bool:
    """Inside the transaction: the first heartbeat after the agent was unreachable says so on its timeline, once
    (the conditional update lets only one of two concurrent heartbeats through)."""
    if not Agent.update(unreachable_since=None).where((Agent.id == agent_id)
                                                      & Agent.unreachable_since.is_null(False)).execute():
        return False
    job = ProvisioningJob.select(ProvisioningJob.id).where(ProvisioningJob.agent == agent_id) \
        .order_by(ProvisioningJob.id.desc()).first()
    if job is not None:
        JobEvent.create(job=job.id, step='recovered', message='Heartbeats arrive again: the agent answers.')
    return True


def count_usage(heard: list[tuple[AgentState, Heartbeat]], now: datetime) -> None:
    """Inside the transaction: add what each boot reported beyond its earlier totals, and mark agents whose runtime
    just started (the first heartbeat of a new boot). Boots are read and locked together, inserted only when
    missing, and written only when they moved on."""
    pairs = {(agent.id, beat.boot_id) for agent, beat in heard}
    boots = read_boots(pairs)
    new = pairs - boots.keys()
    if new:
        heartbeat_sql.insert_boots(sorted(new), now)
        boots = read_boots(pairs)
        for agent, beat in heard:
            agent.started |= (agent.id, beat.boot_id) in new
    increases: dict[tuple[int, int | None], list[int]] = {}
    for agent, beat in heard:
        boot = boots[(agent.id, beat.boot_id)]
        if beat.seq <= boot.last_seq:
            continue  # a repeat, or one overtaken by a later heartbeat
        reported = [beat.totals[field] for field in usage.USAGE_FIELDS]
        increase = [max(0, now_total - before) for now_total, before in zip(reported, boot.totals, strict=True)]
        boot.last_seq, boot.totals, boot.moved = beat.seq, list(map(max, boot.totals, reported)), True
        if any(increase):
            sums = increases.setdefault((agent.id, beat.revision), [0] * len(increase))
            sums[:] = map(sum, zip(sums, increase, strict=True))
    heartbeat_sql.update_boots([(boot.last_seq, boot.totals, boot.row_id) for boot in boots.values() if boot.moved])
    add_usage(increases, {agent.id: agent.model for agent, _ in heard})


def read_boots(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], BootState]:
    return {(agent_id, boot_id): BootState(row_id, last_seq, list(totals))
            for row_id, agent_id, boot_id, last_seq, *totals in heartbeat_sql.locked_boots(pairs)}


def add_usage(increases: dict[tuple[int, int | None], list[int]], current_models: dict[int, str]) -> None:
    """Usage is billed to the model the reported revision ran, or the agent's current one when it is unknown."""
    if not increases:
        return
    ran = heartbeat_sql.models_of_revisions(sorted({agent for agent, _ in increases}),
                                            sorted({revision for _, revision in increases if revision is not None}))
    period = usage.period_start()
    per_model: dict[tuple[int, str], list[int]] = {}
    for (agent_id, revision), increase in increases.items():
        model = ran.get((agent_id, revision)) if revision is not None else None
        sums = per_model.setdefault((agent_id, model or current_models[agent_id]), [0] * len(increase))
        sums[:] = map(sum, zip(sums, increase, strict=True))
    heartbeat_sql.add_usage([(agent_id, period, model, increase)
                             for (agent_id, model), increase in sorted(per_model.items())])
