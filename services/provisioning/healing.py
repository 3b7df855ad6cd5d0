"""Health timeouts and healing: a running agent whose heartbeats stopped is marked `unreachable` and its owner told
once; after `AGENT_HEAL_MINUTES` AgentHost provisions it again (`heal`), at most `AGENT_HEAL_MAX` times in 24
hours.

Heartbeats (`services.runtime.heartbeats`) set an agent healthy or degraded and notice its recovery; this module owns
the other direction. Both passes run on the dispatcher's clock. Silence is only judged once AgentHost itself has
been watching for three intervals: after AgentHost was down, every runtime's last heartbeat is old through no fault
of its own, and the runtimes need one interval to get through again.
"""
import logging
from datetime import datetime, timedelta

from peewee import Expression

from models import Agent, AgentHealth, AgentStatus, JobKind, ProvisioningJob, db, utcnow, write_transaction

from ..billing import gate
from ..platform import notifications
from ..platform.settings import get_settings
from ..platform.workers import once_across_instances
from .agents import owned_agent
from .jobs import _create_job, _open_job, _set_agent, announce, last_job, record_event

log = logging.getLogger('services.provisioning')

MISSED_INTERVALS = 3
HEAL_WINDOW = timedelta(hours=24)


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
    return [agent.id for agent in list(agents) if heal(agent_id=agent.id, now=now) is not None]


def heal(*, agent_id: int, now: datetime | None = None) -> ProvisioningJob | None:
    """Provision an unreachable running agent again (a job marked `heal`, step `healing` on the timeline), or fail
    it with the reason once `AGENT_HEAL_MAX` heals in 24 hours are used up. Returns the heal job, or None when
    nothing was queued (no longer unreachable, a job already open, the budget used up, or no entitlement: billing
    stops such an agent by itself)."""
    now = now or utcnow()
    with write_transaction():
        agent = owned_agent(Agent.get_by_id(agent_id).owner, agent_id, lock=True)
        if agent.status != AgentStatus.RUNNING or agent.health != AgentHealth.UNREACHABLE or _open_job(agent.id):
            return None
        silent = _duration(now - (agent.unreachable_since or now))
        healed = _heals_within_a_day(agent.id, now)
        if healed >= get_settings().agent_heal_max:
            _give_up_healing(agent, silent, healed)
            job = None
        elif not _may_deploy(agent):
            return None
        else:
            job = _queue_heal(agent, silent, healed)
    announce(agent, job)
    return job


def _heals_within_a_day(agent_id: int, now: datetime) -> int:
    return (ProvisioningJob.select().where((ProvisioningJob.agent == agent_id) & ProvisioningJob.heal
                                           & (ProvisioningJob.created_at >= now - HEAL_WINDOW)).count())


def _may_deploy(agent: Agent) -> bool:
    """A heal is a deploy and passes the same gate; an agent without entitlement is left to billing to stop."""
    try:
        gate.check_can_deploy(user=agent.owner, agent=agent)
    except gate.GateError as error:
        log.info('agent %s is unreachable but is not healed: %s', agent.id, error.message)
        return False
    return True


def _queue_heal(agent: Agent, silent: str, healed: int) -> ProvisioningJob:
    """Inside the transaction: a provision job marked `heal`, its reason on the timeline."""
    job = _create_job(agent, kind=JobKind.PROVISION, goal=AgentStatus.RUNNING, heal=True,
                      message='AgentHost queued a heal.')
    record_event(job.id, 'healing', f'Unreachable for {silent}: provisioning it again (heal {healed + 1} of '
                                    f'at most {get_settings().agent_heal_max} in 24 hours).')
    _set_agent(agent.id, status=AgentStatus.PROVISIONING, status_reason='')
    return job


def _give_up_healing(agent: Agent, silent: str, healed: int) -> None:
    """Inside the transaction: the agent fails with the reason, on its last job's timeline and in a mail."""
    reason = (f'It has been unreachable for {silent}, and AgentHost already provisioned it again {healed} time(s) in '
              f'the last 24 hours (AGENT_HEAL_MAX is {get_settings().agent_heal_max}). Look at its log on this page, '
              'then press Retry.')
    last = last_job(agent.id)
    if last is not None:
        record_event(last.id, 'healing_stopped', reason)
    _set_agent(agent.id, status=AgentStatus.FAILED, status_reason=reason)
    log.warning('agent %s failed: %s', agent.id, reason)
    db.after_commit(lambda: notifications.agent_failed(Agent.get_by_id(agent.id), reason))


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
