"""Health timeouts and healing: a running agent whose heartbeats stopped is marked `unreachable` and its owner told
once; after `AGENT_HEAL_MINUTES` AgentHost provisions it again (`commands.heal`), at most `AGENT_HEAL_MAX` times in
24 hours.

Heartbeats (`services.runtime.heartbeats`) set an agent healthy or degraded and notice its recovery; this module owns
the other direction. Both passes run on the dispatcher's clock. Silence is only judged once AgentHost itself has
been watching for three intervals: after AgentHost was down, every runtime's last heartbeat is old through no fault
of its own, and the runtimes need one interval to get through again.
"""
import logging
from datetime import datetime, timedelta

from peewee import Expression

from models import Agent, AgentHealth, AgentStatus, utcnow, write_transaction

from ..platform import notifications
from ..platform.settings import get_settings
from ..platform.workers import once_across_instances
from . import commands
from .jobs import announce, last_job, record_event

log = logging.getLogger('services.provisioning')

MISSED_INTERVALS = 3


def silence_allowed() -> timedelta:
    return timedelta(seconds=MISSED_INTERVALS * get_settings().agent_heartbeat_seconds)


@once_across_instances('health timeouts', skipped=[])
def mark_unreachable_agents(watching_since: datetime, now: datetime | None = None) -> list[int]:
    """Running agents with no heartbeat for three intervals become `unreachable`: timeline, page and one mail."""
    now = now or utcnow()
    cutoff = now - silence_allowed()
    if watching_since > cutoff:
        return []
    condition = _silent_since(cutoff)
    marked = []
    for agent in list(Agent.select().where(condition)):
        message = _silence_message(agent, now)
        with write_transaction():
            changed = (Agent.update(health=AgentHealth.UNREACHABLE, health_message=message, unreachable_since=now)
                       .where((Agent.id == agent.id) & condition).execute())
            job = last_job(agent.id) if changed else None
            if job is not None:
                record_event(job.id, AgentHealth.UNREACHABLE, message)
        if changed:
            marked.append(agent.id)
            log.warning('agent %s is unreachable: %s', agent.id, message)
            notifications.agent_unreachable(agent, silence_allowed().total_seconds() / 60)
            announce(agent, None)
    return marked


@once_across_instances('heals', skipped=[])
def heal_unreachable_agents(now: datetime | None = None) -> list[int]:
    """Agents unreachable for `AGENT_HEAL_MINUTES` get a heal (or fail once the day's heals are used up)."""
    now = now or utcnow()
    due = now - timedelta(minutes=get_settings().agent_heal_minutes)
    agents = Agent.select(Agent.id).where((Agent.status == AgentStatus.RUNNING)
                                          & (Agent.health == AgentHealth.UNREACHABLE)
                                          & (Agent.unreachable_since <= due))
    return [agent.id for agent in list(agents) if commands.heal(agent_id=agent.id, now=now) is not None]


def _silent_since(cutoff: datetime) -> Expression:
    """Running since before `cutoff` (a provision's success sets `updated_at`), not yet unreachable, and no
    heartbeat since then."""
    silent = (Agent.last_heartbeat_at.is_null() | (Agent.last_heartbeat_at < cutoff)) & (Agent.updated_at < cutoff)
    return (Agent.status == AgentStatus.RUNNING) & (Agent.health != AgentHealth.UNREACHABLE) & silent


def _silence_message(agent: Agent, now: datetime) -> str:
    interval = get_settings().agent_heartbeat_seconds
    if agent.last_heartbeat_at is None or agent.last_heartbeat_at < agent.updated_at:
        return (f'No heartbeat since it started running {_duration(now - agent.updated_at)} ago (one is due every '
                f'{interval:g} s): its runtime may not have started, or cannot reach AgentHost.')
    return (f'No heartbeat for {_duration(now - agent.last_heartbeat_at)} (one is due every {interval:g} s): its '
            'runtime or its server stopped answering.')


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    return f'{seconds:.0f} s' if seconds < 120 else f'{seconds / 60:.0f} min'
