"""The statements a batch of heartbeats runs, written out as SQL once.

A fleet heartbeats all the time (1,000 agents every 15 s are 67 a second), and building each statement with the ORM
cost more CPU than running it. So a batch runs a fixed handful of statements whatever its size — read the agents of
the tokens presented, read and lock their boots, write the boots that moved, touch the agents, add usage — composed
here from the models' own table and column names, with the placeholder of the database in use. Every statement runs
inside the caller's write transaction.
"""
from collections.abc import Iterable, Sequence
from datetime import datetime

from models import Agent, AgentRevision, AgentStatus, AgentUsage, RuntimeBoot, RuntimeToken, db, is_sqlite
from models.raw_sql import batch, fetch, placeholders, quoted, sql

from .usage import USAGE_FIELDS

AGENT, TOKEN, BOOT, REVISION, USAGE = (quoted(model) for model in (Agent, RuntimeToken, RuntimeBoot, AgentRevision,
                                                                   AgentUsage))
AGENT_COLUMNS = ', '.join(f'a.{quoted(field)}' for field in (
    Agent.id, Agent.owner, Agent.name, Agent.model, Agent.config_revision, Agent.applied_revision, Agent.health,
    Agent.health_message))
"""What a heartbeat compares and tells, followed by whether the agent was unreachable."""
COUNTERS = [f'"{name}"' for name in USAGE_FIELDS]
"""The usage counters, named alike in the boot and usage tables."""
BOOT_COLUMNS = ', '.join([*(quoted(field) for field in (RuntimeBoot.id, RuntimeBoot.agent, RuntimeBoot.boot_id,
                                                       RuntimeBoot.last_seq)), *COUNTERS])


def agents_by_token(hashes: Sequence[str]) -> list[tuple]:
    """(token hash, *agent columns, unreachable) for each live token of an agent that is not deleted."""
    return fetch(f'SELECT t.{quoted(RuntimeToken.sha256)}, {AGENT_COLUMNS}, '
                 f'a.{quoted(Agent.unreachable_since)} IS NOT NULL '
                 f'FROM {TOKEN} t JOIN {AGENT} a ON a.{quoted(Agent.id)} = t.{quoted(RuntimeToken.agent)} '
                 f'WHERE t.{quoted(RuntimeToken.sha256)} IN ({placeholders(len(hashes))}) '
                 f'AND t.{quoted(RuntimeToken.revoked_at)} IS NULL AND a.{quoted(Agent.status)} <> ?',
                 [*hashes, str(AgentStatus.DELETED)])


def agents_by_id(agent_ids: Sequence[int]) -> list[tuple]:
    """(agent id, *agent columns, unreachable) for each agent that exists."""
    return fetch(f'SELECT a.{quoted(Agent.id)}, {AGENT_COLUMNS}, a.{quoted(Agent.unreachable_since)} IS NOT NULL '
                 f'FROM {AGENT} a WHERE a.{quoted(Agent.id)} IN ({placeholders(len(agent_ids))})', list(agent_ids))


def locked_boots(pairs: set[tuple[int, str]]) -> list[tuple]:
    """(id, agent id, boot id, last seq, *counters) of these boots, locked on PostgreSQL so two heartbeats of one
    boot count once (SQLite's writer lock does); in id order, so two batches lock in the same order."""
    if not pairs:
        return []
    agent_ids, boot_ids = sorted({agent for agent, _ in pairs}), sorted({boot for _, boot in pairs})
    found = fetch(f'SELECT {BOOT_COLUMNS} FROM {BOOT} '
                  f'WHERE {quoted(RuntimeBoot.agent)} IN ({placeholders(len(agent_ids))}) '
                  f'AND {quoted(RuntimeBoot.boot_id)} IN ({placeholders(len(boot_ids))}) '
                  f'ORDER BY {quoted(RuntimeBoot.id)}{"" if is_sqlite() else " FOR UPDATE"}', [*agent_ids, *boot_ids])
    return [row for row in found if (row[1], row[2]) in pairs]


def insert_boots(pairs: Iterable[tuple[int, str]], now: datetime) -> None:
    """New boots, each starting from zero; one another instance inserted meanwhile is left as it is."""
    columns = [*(quoted(field) for field in (RuntimeBoot.agent, RuntimeBoot.boot_id, RuntimeBoot.last_seq,
                                            RuntimeBoot.created_at)), *COUNTERS]
    batch(f'INSERT INTO {BOOT} ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))}) '
          'ON CONFLICT DO NOTHING',
          [(agent, boot, 0, now, *([0] * len(USAGE_FIELDS))) for agent, boot in pairs])


def update_boots(rows: Sequence[tuple[int, Sequence[int], int]]) -> None:
    """(last seq, counters, boot row id) for each boot that moved on."""
    batch(f'UPDATE {BOOT} SET {quoted(RuntimeBoot.last_seq)} = ?, {", ".join(f"{c} = ?" for c in COUNTERS)} '
          f'WHERE {quoted(RuntimeBoot.id)} = ?', [(seq, *counters, boot) for seq, counters, boot in rows])


def touch_agents(agent_ids: Sequence[int], now: datetime) -> None:
    """Agents whose heartbeat told nothing new: only the time it came."""
    if agent_ids:
        db.execute_sql(sql(f'UPDATE {AGENT} SET {quoted(Agent.last_heartbeat_at)} = ? '
                           f'WHERE {quoted(Agent.id)} IN ({placeholders(len(agent_ids))})'), [now, *agent_ids])


def update_agents(rows: Sequence[tuple[datetime, str, str, int | None, datetime | None, int]]) -> None:
    """(heartbeat time, health, message, applied revision, runtime started at or None to keep it, agent id)."""
    batch(f'UPDATE {AGENT} SET {quoted(Agent.last_heartbeat_at)} = ?, {quoted(Agent.health)} = ?, '
          f'{quoted(Agent.health_message)} = ?, {quoted(Agent.applied_revision)} = ?, '
          f'{quoted(Agent.runtime_started_at)} = COALESCE(?, {quoted(Agent.runtime_started_at)}) '
          f'WHERE {quoted(Agent.id)} = ?', rows)


def models_of_revisions(agent_ids: Sequence[int], revisions: Sequence[int]) -> dict[tuple[int, int], str]:
    """{(agent id, revision): the model it ran} for the revisions that exist."""
    if not agent_ids or not revisions:
        return {}
    found = fetch(f'SELECT {quoted(AgentRevision.agent)}, {quoted(AgentRevision.revision)}, '
                  f'{quoted(AgentRevision.model)} '
                  f'FROM {REVISION} WHERE {quoted(AgentRevision.agent)} IN ({placeholders(len(agent_ids))}) '
                  f'AND {quoted(AgentRevision.revision)} IN ({placeholders(len(revisions))})',
                  [*agent_ids, *revisions])
    return {(agent, revision): model for agent, revision, model in found}


def add_usage(rows: Sequence[tuple[int, datetime, str, Sequence[int]]]) -> None:
    """(agent id, period start, model, increases) added to the period's row, created when missing."""
    keys = ', '.join(quoted(key) for key in (AgentUsage.agent, AgentUsage.period_start, AgentUsage.model))
    batch(f'INSERT INTO {USAGE} ({keys}, {", ".join(COUNTERS)}) VALUES ({", ".join("?" * (3 + len(COUNTERS)))}) '
          f'ON CONFLICT ({keys}) DO UPDATE SET {", ".join(f"{c} = {USAGE}.{c} + excluded.{c}" for c in COUNTERS)}',
          [(agent, period, model, *increase) for agent, period, model, increase in rows])
