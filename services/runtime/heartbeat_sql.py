"""The statements a batch of heartbeats runs, written out as SQL once.

A fleet heartbeats all the time (1,000 agents every 15 s are 67 a second), and building each statement with the ORM
cost more CPU than running it. So a batch runs a fixed handful of statements whatever its size — read the agents of
the tokens presented, read and lock their boots, write the boots that moved, touch the agents, add usage — composed
here from the models' own table and column names, with the placeholder of the database in use. Every statement runs
inside the caller's write transaction.
"""
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import peewee

from models import Agent, AgentRevision, AgentStatus, AgentUsage, RuntimeBoot, RuntimeToken, db, is_sqlite

from .usage import USAGE_FIELDS


def _name(model_or_field: type[peewee.Model] | peewee.Field) -> str:
    if isinstance(model_or_field, peewee.Field):
        return f'"{model_or_field.column_name}"'
    return f'"{model_or_field._meta.table_name}"'


AGENT, TOKEN, BOOT, REVISION, USAGE = (_name(model) for model in (Agent, RuntimeToken, RuntimeBoot, AgentRevision,
                                                                   AgentUsage))
AGENT_COLUMNS = ', '.join(f'a.{_name(field)}' for field in (
    Agent.id, Agent.owner, Agent.name, Agent.model, Agent.config_revision, Agent.applied_revision, Agent.health,
    Agent.health_message))
"""What a heartbeat compares and tells, followed by whether the agent was unreachable."""
COUNTERS = [f'"{name}"' for name in USAGE_FIELDS]
"""The usage counters, named alike in the boot and usage tables."""
BOOT_COLUMNS = ', '.join([*(_name(field) for field in (RuntimeBoot.id, RuntimeBoot.agent, RuntimeBoot.boot_id,
                                                       RuntimeBoot.last_seq)), *COUNTERS])


def _placeholders(count: int) -> str:
    return ', '.join([db.obj.param] * count)


def _sql(template: str) -> str:
    """`?` marks a placeholder in the templates below; PostgreSQL's driver wants `%s`."""
    return template.replace('?', db.obj.param)


def _rows(template: str, params: Sequence[Any]) -> list[tuple]:
    return list(db.execute_sql(_sql(template), params).fetchall())


def _many(template: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        db.cursor().executemany(_sql(template), rows)


def agents_by_token(hashes: Sequence[str]) -> list[tuple]:
    """(token hash, *agent columns, unreachable) for each live token of an agent that is not deleted."""
    return _rows(f'SELECT t.{_name(RuntimeToken.sha256)}, {AGENT_COLUMNS}, '
                 f'a.{_name(Agent.unreachable_since)} IS NOT NULL '
                 f'FROM {TOKEN} t JOIN {AGENT} a ON a.{_name(Agent.id)} = t.{_name(RuntimeToken.agent)} '
                 f'WHERE t.{_name(RuntimeToken.sha256)} IN ({_placeholders(len(hashes))}) '
                 f'AND t.{_name(RuntimeToken.revoked_at)} IS NULL AND a.{_name(Agent.status)} <> ?',
                 [*hashes, str(AgentStatus.DELETED)])


def agents_by_id(agent_ids: Sequence[int]) -> list[tuple]:
    """(agent id, *agent columns, unreachable) for each agent that exists."""
    return _rows(f'SELECT a.{_name(Agent.id)}, {AGENT_COLUMNS}, a.{_name(Agent.unreachable_since)} IS NOT NULL '
                 f'FROM {AGENT} a WHERE a.{_name(Agent.id)} IN ({_placeholders(len(agent_ids))})', list(agent_ids))


def locked_boots(pairs: set[tuple[int, str]]) -> list[tuple]:
    """(id, agent id, boot id, last seq, *counters) of these boots, locked on PostgreSQL so two heartbeats of one
    boot count once (SQLite's writer lock does); in id order, so two batches lock in the same order."""
    if not pairs:
        return []
    agent_ids, boot_ids = sorted({agent for agent, _ in pairs}), sorted({boot for _, boot in pairs})
    rows = _rows(f'SELECT {BOOT_COLUMNS} FROM {BOOT} '
                 f'WHERE {_name(RuntimeBoot.agent)} IN ({_placeholders(len(agent_ids))}) '
                 f'AND {_name(RuntimeBoot.boot_id)} IN ({_placeholders(len(boot_ids))}) '
                 f'ORDER BY {_name(RuntimeBoot.id)}{"" if is_sqlite() else " FOR UPDATE"}', [*agent_ids, *boot_ids])
    return [row for row in rows if (row[1], row[2]) in pairs]


def insert_boots(pairs: Iterable[tuple[int, str]], now: datetime) -> None:
    """New boots, each starting from zero; one another instance inserted meanwhile is left as it is."""
    columns = [*(_name(field) for field in (RuntimeBoot.agent, RuntimeBoot.boot_id, RuntimeBoot.last_seq,
                                            RuntimeBoot.created_at)), *COUNTERS]
    _many(f'INSERT INTO {BOOT} ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))}) '
          'ON CONFLICT DO NOTHING',
          [(agent, boot, 0, now, *([0] * len(USAGE_FIELDS))) for agent, boot in pairs])


def update_boots(rows: Sequence[tuple[int, Sequence[int], int]]) -> None:
    """(last seq, counters, boot row id) for each boot that moved on."""
    _many(f'UPDATE {BOOT} SET {_name(RuntimeBoot.last_seq)} = ?, {", ".join(f"{c} = ?" for c in COUNTERS)} '
          f'WHERE {_name(RuntimeBoot.id)} = ?', [(seq, *counters, boot) for seq, counters, boot in rows])


def touch_agents(agent_ids: Sequence[int], now: datetime) -> None:
    """Agents whose heartbeat told nothing new: only the time it came."""
    if agent_ids:
        db.execute_sql(_sql(f'UPDATE {AGENT} SET {_name(Agent.last_heartbeat_at)} = ? '
                            f'WHERE {_name(Agent.id)} IN ({_placeholders(len(agent_ids))})'), [now, *agent_ids])


def update_agents(rows: Sequence[tuple[datetime, str, str, int | None, datetime | None, int]]) -> None:
    """(heartbeat time, health, message, applied revision, runtime started at or None to keep it, agent id)."""
    _many(f'UPDATE {AGENT} SET {_name(Agent.last_heartbeat_at)} = ?, {_name(Agent.health)} = ?, '
          f'{_name(Agent.health_message)} = ?, {_name(Agent.applied_revision)} = ?, '
          f'{_name(Agent.runtime_started_at)} = COALESCE(?, {_name(Agent.runtime_started_at)}) '
          f'WHERE {_name(Agent.id)} = ?', rows)


def models_of_revisions(agent_ids: Sequence[int], revisions: Sequence[int]) -> dict[tuple[int, int], str]:
    """{(agent id, revision): the model it ran} for the revisions that exist."""
    if not agent_ids or not revisions:
        return {}
    rows = _rows(f'SELECT {_name(AgentRevision.agent)}, {_name(AgentRevision.revision)}, {_name(AgentRevision.model)} '
                 f'FROM {REVISION} WHERE {_name(AgentRevision.agent)} IN ({_placeholders(len(agent_ids))}) '
                 f'AND {_name(AgentRevision.revision)} IN ({_placeholders(len(revisions))})',
                 [*agent_ids, *revisions])
    return {(agent, revision): model for agent, revision, model in rows}


def add_usage(rows: Sequence[tuple[int, datetime, str, Sequence[int]]]) -> None:
    """(agent id, period start, model, increases) added to the period's row, created when missing."""
    keys = ', '.join(_name(key) for key in (AgentUsage.agent, AgentUsage.period_start, AgentUsage.model))
    _many(f'INSERT INTO {USAGE} ({keys}, {", ".join(COUNTERS)}) VALUES ({", ".join("?" * (3 + len(COUNTERS)))}) '
          f'ON CONFLICT ({keys}) DO UPDATE SET {", ".join(f"{c} = {USAGE}.{c} + excluded.{c}" for c in COUNTERS)}',
          [(agent, period, model, *increase) for agent, period, model, increase in rows])
