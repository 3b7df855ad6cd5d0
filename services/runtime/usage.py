"""Usage per agent per billing period, from the cumulative totals runtimes report in their heartbeats.

A billing period is the calendar month in UTC: the same for every plan (comp grants have no Stripe period), and
what an operator compares against a provider's invoice.
"""
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from models import AgentUsage, utcnow

USAGE_FIELDS = ('requests', 'input_tokens', 'output_tokens')


@dataclass(frozen=True)
class Usage:
    period_start: datetime
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def to_dict(self) -> dict:
        return {'period_start': self.period_start.isoformat() + 'Z', 'requests': self.requests,
                'input_tokens': self.input_tokens, 'output_tokens': self.output_tokens}


def period_start(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_usage(agent_id: int, model: str, increase: dict[str, int]) -> None:
    """Add an increase to this period's row for the agent and model; the caller holds the write transaction."""
    if not any(increase.get(field, 0) for field in USAGE_FIELDS):
        return
    values = {field: max(0, int(increase.get(field, 0))) for field in USAGE_FIELDS}
    row = {'agent': agent_id, 'period_start': period_start(), 'model': model, **values}
    conflict_target = [AgentUsage.agent, AgentUsage.period_start, AgentUsage.model]
    update = {getattr(AgentUsage, field): getattr(AgentUsage, field) + values[field] for field in USAGE_FIELDS}
    AgentUsage.insert(row).on_conflict(conflict_target=conflict_target, update=update).execute()


def usage_this_period(agent_id: int) -> Usage:
    return usage_of_agents([agent_id])[agent_id]


def usage_of_agents(agent_ids: list[int]) -> dict[int, Usage]:
    """This period's usage of each agent, in one query (the agents list shows it for every agent)."""
    start = period_start()
    totals = {agent_id: [0, 0, 0] for agent_id in agent_ids}
    if agent_ids:
        rows = AgentUsage.select().where(AgentUsage.agent.in_(agent_ids) & (AgentUsage.period_start == start))
        for row in rows:
            for index, field in enumerate(USAGE_FIELDS):
                totals[row.agent_id][index] += getattr(row, field)
    return {agent_id: Usage(start, *counts) for agent_id, counts in totals.items()}


def usage_by_model_this_period() -> list[tuple[str, int, int, int]]:
    """(model, requests, input tokens, output tokens) over all agents, for /metrics and the admin page."""
    query = (AgentUsage.select(AgentUsage.model, *(fn.SUM(getattr(AgentUsage, field)).alias(field)
                                                  for field in USAGE_FIELDS))
             .where(AgentUsage.period_start == period_start()).group_by(AgentUsage.model).order_by(AgentUsage.model))
    return [(row.model, int(row.requests), int(row.input_tokens), int(row.output_tokens)) for row in query]
