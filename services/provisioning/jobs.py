"""The job table: its rules (steps, ranks), locked reads, `_finish`, the events that make the timeline.

The table is the truth, workers only move it forward. The reads come first; the helpers after them run inside the
caller's write transaction, except `announce`, which tells pages and wakes the dispatcher after the commit.
"""
import secrets
from dataclasses import dataclass
from datetime import datetime

import peewee

from models import (
    OPEN_JOB_STATUSES,
    Agent,
    AgentApiKey,
    AgentHealth,
    AgentStatus,
    JobEvent,
    JobKind,
    JobStatus,
    ProvisioningJob,
    User,
    db,
    is_sqlite,
    read_transaction,
    utcnow,
)

from ..platform import events, metrics, notifications
from ..platform.errors import DomainError
from ..platform.settings import get_settings
from ..runtime import api_keys, tokens, usage
from . import failure_reasons
from .agents import list_agents, owned_agent

STATUS_RANK: dict[str, int] = {JobStatus.QUEUED: 0, JobStatus.DISPATCHING: 1, JobStatus.DISPATCHED: 2,
                               JobStatus.IN_PROGRESS: 3, JobStatus.SUCCEEDED: 4, JobStatus.FAILED: 4,
                               JobStatus.CANCELLED: 4}
STEPS: dict[str, tuple[str, ...]] = {
    JobKind.PROVISION: (JobStatus.QUEUED, JobStatus.DISPATCHED, 'server_created', 'agent_starting', 'certificate',
                        AgentStatus.RUNNING),
    JobKind.DEPROVISION: (JobStatus.QUEUED, JobStatus.DISPATCHED, 'server_deleted', AgentStatus.STOPPED)}
"""The named steps a page shows for each kind of job, in order; callbacks name the ones in the middle. The first
two are the job's statuses at that point, the last is the agent status the job leads to (its goal)."""
LOCAL_STEPS: dict[str, tuple[str, ...]] = {
    JobKind.PROVISION: (JobStatus.QUEUED, JobStatus.DISPATCHED, 'agent_starting', AgentStatus.RUNNING),
    JobKind.DEPROVISION: (JobStatus.QUEUED, JobStatus.DISPATCHED, 'server_deleted', AgentStatus.STOPPED)}
"""The same on this machine (`PROVISIONER=local`): no server to create and no certificate to wait for."""
STEP_LABELS: dict[str, str] = {
    JobStatus.QUEUED: 'Queued', JobStatus.DISPATCHED: 'Dispatched', 'server_created': 'Server created',
    'agent_starting': 'Runtime starting', 'certificate': 'Certificate', AgentStatus.RUNNING: 'Running',
    'server_deleted': 'Server deleted', AgentStatus.STOPPED: 'Stopped', AgentStatus.DELETED: 'Deleted'}
NO_RUNTIME = {'health': AgentHealth.UNKNOWN, 'health_message': '', 'unreachable_since': None,
              'runtime_started_at': None}
"""What an agent whose runtime was removed shows: nothing to judge."""


class ProvisioningError(DomainError):
    pass


def provisioning_is_configured() -> bool:
    settings = get_settings()
    if settings.provisioner_kind == 'local':
        return True  # the agents run on this machine: no GitHub and no callback secret needed
    return bool(settings.github_token and settings.github_repository and settings.callback_secret)


# --- reading ---------------------------------------------------------------------------------------------------------

def last_job(agent_id: int) -> ProvisioningJob | None:
    return ProvisioningJob.select().where(ProvisioningJob.agent == agent_id) \
        .order_by(ProvisioningJob.id.desc()).first()


def latest_jobs(agent_ids: list[int]) -> dict[int, ProvisioningJob]:
    """Each agent's current or last job, in one query (for lists)."""
    if not agent_ids:
        return {}
    newest = (ProvisioningJob.select(peewee.fn.MAX(ProvisioningJob.id))
              .where(ProvisioningJob.agent.in_(agent_ids)).group_by(ProvisioningJob.agent))
    return {job.agent_id: job for job in ProvisioningJob.select().where(ProvisioningJob.id.in_(newest))}


def timeline(*, owner: User, agent_id: int, limit: int = 500) -> list[JobEvent]:
    """The agent's events across all its jobs, oldest first."""
    agent = owned_agent(owner, agent_id)
    newest = (JobEvent.select(JobEvent, ProvisioningJob).join(ProvisioningJob)
              .where(ProvisioningJob.agent == agent.id).order_by(JobEvent.time.desc(), JobEvent.id.desc())
              .limit(limit))
    return list(reversed(list(newest)))


@dataclass
class AgentState:
    agent: Agent
    job: ProvisioningJob | None
    events: list[JobEvent]
    usage: usage.Usage
    keys: list[AgentApiKey]


def agent_state(*, owner: User, agent_id: int) -> AgentState:
    """Everything the agent page shows, read in one go (the page rebuilds from this after every change)."""
    with read_transaction():  # one snapshot on SQLite; elsewhere pages read again after any change (events.Coalesced)
        agent = owned_agent(owner, agent_id)
        return AgentState(agent, last_job(agent.id), timeline(owner=owner, agent_id=agent_id, limit=100),
                          usage.usage_this_period(agent.id), api_keys.listed_keys(agent.id))


def agents_with_jobs(*, owner: User) -> list[tuple[Agent, ProvisioningJob | None]]:
    agents = list_agents(owner=owner)
    jobs = latest_jobs([agent.id for agent in agents])
    return [(agent, jobs.get(agent.id)) for agent in agents]


# --- inside a write transaction ---------------------------------------------------------------------------------------

def _require_configuration() -> None:
    if not provisioning_is_configured():
        raise ProvisioningError('PROVISIONING_NOT_CONFIGURED', 'Provisioning is not set up yet. The operator must '
                                                               'set GITHUB_TOKEN, GITHUB_REPOSITORY and '
                                                               'CALLBACK_SECRET.')


def _lock_owner(owner: User) -> None:
    """PostgreSQL: serialise one owner's deploys so the plan limit holds (SQLite's IMMEDIATE already does)."""
    if not is_sqlite():
        User.select(User.id).where(User.id == owner.id).for_update().execute()


def _locked_job(job_id: int) -> ProvisioningJob | None:
    query = ProvisioningJob.select().where(ProvisioningJob.id == job_id)
    return (query if is_sqlite() else query.for_update()).first()


def _open_job(agent_id: int) -> ProvisioningJob | None:
    return ProvisioningJob.get_or_none(ProvisioningJob.open_agent == agent_id)


def _job_for_key(key: str | None, agent: Agent) -> ProvisioningJob | None:
    if key is None:
        return None
    job = ProvisioningJob.get_or_none(ProvisioningJob.idempotency_key == key)
    if job is not None and job.agent_id != agent.id:
        raise ProvisioningError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used to deploy another '
                                                          'agent; send a new key.')
    return job


def _create_job(agent: Agent, *, kind: JobKind, goal: AgentStatus, message: str, key: str | None = None,
                heal: bool = False) -> ProvisioningJob:
    job = ProvisioningJob.create(agent=agent, kind=kind, goal=goal, previous_status=agent.status, heal=heal,
                                 open_agent=agent.id, idempotency_key=key or f'job:{secrets.token_hex(16)}')
    record_event(job.id, JobStatus.QUEUED, message)
    return job


def _finish(job: ProvisioningJob, status: JobStatus, *, error: str = '', message: str = '', token: str | None = None,
            cancel_run: bool = False, agent_update: bool = True, silent_before: datetime | None = None,
            **fields) -> bool:
    """Inside a transaction: close an open job (compare-and-set) and move its agent to where the job led."""
    Job = ProvisioningJob
    now = utcnow()
    condition = (Job.id == job.id) & Job.status.in_(OPEN_JOB_STATUSES)
    if token is not None:
        condition &= (Job.status == JobStatus.DISPATCHING) & (Job.claim_token == token)
    if silent_before is not None:
        condition &= Job.last_news_at < silent_before
    step = steps_of(job)[-1] if status == JobStatus.SUCCEEDED else job.step
    if not Job.update(status=status, open_agent=None, claim_token=None, last_error=error, cancel_run=cancel_run,
                      step=step, updated_at=now, **fields).where(condition).execute():
        return False
    record_event(job.id, step if status == JobStatus.SUCCEEDED else status,
           message or error or _default_message(status, step))
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        db.after_commit(lambda: _tell_the_outcome(job, status))
    if not agent_update:
        return True
    if status == JobStatus.SUCCEEDED:
        if job.kind == JobKind.PROVISION:
            _set_agent(job.agent_id, status=AgentStatus.RUNNING, status_reason='')
            _judge_health_afresh(job.agent_id)
            tokens.supersede(job.agent_id, job.id)
        else:
            _set_agent(job.agent_id, status=job.goal, status_reason='', ip_address=None, server_id=None,
                       endpoint_url=None, **NO_RUNTIME)
            tokens.revoke_all(job.agent_id)
    elif status == JobStatus.FAILED:
        prefix = '' if job.kind == JobKind.PROVISION else (
            'Stopping' if job.goal == AgentStatus.STOPPED else 'Deleting') + ' failed: '
        _set_agent(job.agent_id, status=AgentStatus.FAILED, status_reason=prefix + error)
    return True


def _judge_health_afresh(agent_id: int) -> None:
    """A provision succeeded: an agent that was unreachable is `unknown` until its runtime beats (silence is judged
    from now on). `unreachable_since` stays, so the first heartbeat still tells the owner it recovered."""
    (Agent.update(health=AgentHealth.UNKNOWN, health_message='')
     .where((Agent.id == agent_id) & (Agent.health == AgentHealth.UNREACHABLE)).execute())


def _tell_the_outcome(job: ProvisioningJob, status: JobStatus) -> None:
    """After the commit: the provisioning time for the metrics, and a mail to the owner."""
    if job.kind == JobKind.PROVISION:
        metrics.provisioning_duration.observe((utcnow() - job.created_at).total_seconds())
    agent = Agent.get_by_id(job.agent_id)
    if status == JobStatus.FAILED:
        notifications.agent_failed(agent, failure_reasons.failure_mail_reason(job))
    elif job.kind == JobKind.PROVISION and not job.heal:  # a healed agent's owner hears when it answers again
        notifications.agent_running(agent)


def _set_agent(agent_id: int, **fields) -> None:
    Agent.update(**fields, updated_at=utcnow()).where(Agent.id == agent_id).execute()


def record_event(job_id: int, step: str, message: str) -> None:
    """Inside the caller's transaction: one entry of the job's timeline (what the agent page lists)."""
    JobEvent.create(job=job_id, step=step, message=message)


def steps_of(job: ProvisioningJob) -> tuple[str, ...]:
    """The named steps of this job, in order (a deprovision ends in `stopped` or `deleted`)."""
    steps = LOCAL_STEPS if get_settings().provisioner_kind == 'local' else STEPS
    return steps[JobKind.PROVISION] if job.kind == JobKind.PROVISION else (*steps[JobKind.DEPROVISION][:-1], job.goal)


def _step_index(job: ProvisioningJob) -> int:
    steps = steps_of(job)
    return steps.index(job.step) if job.step in steps else 0


def _default_message(status: str, step: str) -> str:
    messages: dict[str, str] = {JobStatus.IN_PROGRESS: 'The workflow started.', JobStatus.SUCCEEDED: 'Finished.',
                                JobStatus.FAILED: 'The workflow failed.', JobStatus.CANCELLED: 'Cancelled.'}
    return messages.get(status, STEP_LABELS.get(step, step.replace('_', ' ').capitalize()) + '.')


def announce(agent: Agent, job: ProvisioningJob | None) -> None:
    """After the commit: tell open pages, and wake the dispatcher when the job can be worked on now."""
    events.agent_updated(agent.owner_id, agent.id)
    if job is not None:
        job = ProvisioningJob.get_by_id(job.id)
        if job.status == JobStatus.QUEUED or job.cancel_run:
            events.job_queued(job.id)
