"""What users ask for: Deploy, Stop, Delete, Retry and Cancel, each one write transaction on jobs and agents.

The dispatcher (`dispatch.py`) then works on the jobs these queue; every function here is synchronous, so async
callers use `run.io_bound` (never `await` inside a transaction: all coroutines share one connection).
"""
import peewee

from models import (
    Agent,
    AgentStatus,
    JobKind,
    JobStatus,
    ProvisioningJob,
    User,
    utcnow,
    write_transaction,
)

from ..billing import gate
from . import servers
from .agents import AgentError, owned_agent
from .jobs import (
    ProvisioningError,
    _create_job,
    _finish,
    _job_for_key,
    _lock_owner,
    _open_job,
    _require_configuration,
    _set_agent,
    announce,
    last_job,
    record_event,
)

DEPLOYABLE_STATUSES = (AgentStatus.DRAFT, AgentStatus.STOPPED, AgentStatus.FAILED)


def request_deploy(*, owner: User, agent_id: int, idempotency_key: str | None = None) -> ProvisioningJob:
    """Queue the agent's provisioning and return its job; while a job is open (or for a known key) that job.

    The gate runs inside the same write transaction that creates the job, after the owner is locked, so two
    deploys at the plan limit cannot both pass.
    """
    key = f'{owner.id}:{idempotency_key}' if idempotency_key else None
    for _ in range(2):  # a concurrent writer in another process may win the unique index once
        try:
            with write_transaction():
                _lock_owner(owner)
                agent = owned_agent(owner, agent_id, lock=True)
                existing = _job_for_key(key, agent) or _open_job(agent.id)
                if existing is not None:
                    if existing.kind != JobKind.PROVISION and existing.is_open:
                        raise AgentError('AGENT_BUSY', f'The agent is {agent.status}; wait until that finishes '
                                                       'before deploying it again.')
                    return existing
                if agent.status not in DEPLOYABLE_STATUSES:
                    raise AgentError('AGENT_NOT_DEPLOYABLE', f'The agent is {agent.status}; only draft, stopped or '
                                                             'failed agents can be deployed.')
                gate.check_can_deploy(user=owner, agent=agent)
                _require_configuration()
                job = _create_job(agent, kind=JobKind.PROVISION, goal=AgentStatus.RUNNING, key=key,
                                  message='Deploy requested; waiting to dispatch the workflow.')
                _set_agent(agent.id, status=AgentStatus.PROVISIONING, status_reason='')
            break
        except peewee.IntegrityError:
            continue
    else:
        raise ProvisioningError('AGENT_BUSY', 'Another request changed this agent at the same time; try again.')
    announce(agent, job)
    return job


def request_stop(*, owner: User, agent_id: int, reason: str = '') -> ProvisioningJob | None:
    """Queue the removal of the agent's server, leaving it `stopped`; idempotent (an open stop is returned).

    Returns None when there is nothing to stop (draft, stopped, or failed before any server could exist), and the
    cancelled deploy when one was queued but never reached GitHub. Billing calls this when an entitlement is lost,
    with the reason for the timeline.
    """
    return _request_removal(owner=owner, agent_id=agent_id, goal=AgentStatus.STOPPED,
                            reason=reason or 'Stop requested.', require_configuration=False)


def stop_agent(*, owner: User, agent_id: int) -> ProvisioningJob:
    """Stop from the page or the API: like `request_stop`, but refuses when there is nothing to stop or no way to."""
    job = _request_removal(owner=owner, agent_id=agent_id, goal=AgentStatus.STOPPED, reason='Stop requested.')
    if job is None:
        agent = Agent.get_by_id(agent_id)
        raise AgentError('AGENT_NOT_RUNNING', f'The agent is {agent.status}; there is no server to stop.')
    return job


def request_delete(*, owner: User, agent_id: int) -> Agent:
    """Delete an agent: at once when it has no server, else after a deprovision job (`deleting` → `deleted`)."""
    _request_removal(owner=owner, agent_id=agent_id, goal=AgentStatus.DELETED, reason='Delete requested.')
    return Agent.get_by_id(agent_id)


def retry(*, owner: User, agent_id: int) -> ProvisioningJob:
    """Try a failed agent's last job again, as a new job of the same kind."""
    agent = owned_agent(owner, agent_id)
    last = last_job(agent.id)
    if agent.status != AgentStatus.FAILED:
        raise AgentError('AGENT_NOT_FAILED', f'The agent is {agent.status}; only a failed agent can be retried.')
    if last is None or last.kind == JobKind.PROVISION:
        return request_deploy(owner=owner, agent_id=agent_id)
    job = _request_removal(owner=owner, agent_id=agent_id, goal=AgentStatus(last.goal), reason='Retry requested.')
    if job is None:
        raise AgentError('AGENT_NOT_RUNNING', 'No server is left to remove; deploy the agent again or delete it.')
    return job


def cancel(*, owner: User, agent_id: int) -> ProvisioningJob:
    """Cancel the agent's open job and, once its run is known, the run on GitHub; returns the cancelled job.

    When the job may have reached GitHub (or a server may be left from before), a deprovision follows at once:
    a cancelled run may already have created a server, and that server counts against the plan until it is gone.
    """
    with write_transaction():
        agent = owned_agent(owner, agent_id, lock=True)
        job = _open_job(agent.id)
        if job is None:
            raise AgentError('NO_OPEN_JOB', 'Nothing is in progress for this agent.')
        removal = _cancel_open_job(job, agent, 'Cancelled by the owner.')
    announce(agent, job)
    if removal is not None:
        announce(agent, removal)
    return ProvisioningJob.get_by_id(job.id)


def _request_removal(*, owner: User, agent_id: int, goal: AgentStatus, reason: str,
                     require_configuration: bool = True) -> ProvisioningJob | None:
    with write_transaction():
        agent = owned_agent(owner, agent_id, lock=True)
        job = _open_job(agent.id)
        if job is not None and job.kind == JobKind.DEPROVISION:
            if goal == AgentStatus.DELETED and job.goal != AgentStatus.DELETED:
                ProvisioningJob.update(goal=AgentStatus.DELETED, updated_at=utcnow()) \
                    .where(ProvisioningJob.id == job.id).execute()
                record_event(job.id, 'delete_requested',
                             'Delete requested; the agent is deleted once the server is gone.')
                _set_agent(agent.id, status=AgentStatus.DELETING)
            removal = job
        else:
            server_may_exist = _server_may_exist(agent, job)
            if job is not None:
                _cancel_open_job(job, agent, f'Cancelled: {reason}', restore=False)
            if server_may_exist:
                if require_configuration:
                    _require_configuration()
                removal = _create_job(agent, kind=JobKind.DEPROVISION, goal=goal, message=reason)
                removing = AgentStatus.STOPPING if goal == AgentStatus.STOPPED else AgentStatus.DELETING
                _set_agent(agent.id, status=removing)
            else:
                removal = job  # the cancelled deploy, if any: nothing reached GitHub, so no server to remove
                if goal == AgentStatus.DELETED:
                    _set_agent(agent.id, status=AgentStatus.DELETED)
                elif job is not None:
                    _set_agent(agent.id, status=job.previous_status if job.previous_status != AgentStatus.FAILED
                               else AgentStatus.STOPPED)
    announce(agent, removal)
    return ProvisioningJob.get_by_id(removal.id) if removal is not None else None


def _server_may_exist(agent: Agent, open_job: ProvisioningJob | None) -> bool:
    """Whether a server may be up: a reported one, a running agent, or work after a failure that reached GitHub."""
    if agent.server_id or agent.status in (AgentStatus.RUNNING, AgentStatus.STOPPING, AgentStatus.DELETING):
        return True
    if open_job is not None and (open_job.status != JobStatus.QUEUED or open_job.maybe_dispatched):
        return True
    failed_before = agent.status == AgentStatus.FAILED or (
        open_job is not None and open_job.previous_status == AgentStatus.FAILED)
    if not failed_before:
        return False
    return servers.may_have_reached_github(servers.last_finished_jobs([agent.id]).get(agent.id))


def _cancel_open_job(job: ProvisioningJob, agent: Agent, reason: str, *,
                     restore: bool = True) -> ProvisioningJob | None:
    """Inside a transaction: cancel `job`; its run is cancelled by the dispatcher once known.

    With `restore`, the agent goes back to where it was when nothing reached GitHub; otherwise (or when a failed
    agent's earlier run may have left a server) a deprovision is queued and returned, so no server outlives the
    cancel unseen by the plan.
    """
    reached_github = job.status != JobStatus.QUEUED or job.maybe_dispatched
    leaves_server = restore and (reached_github or (job.previous_status != AgentStatus.RUNNING
                                                    and _server_may_exist(agent, job)))
    _finish(job, JobStatus.CANCELLED, error=reason, cancel_run=reached_github, agent_update=restore)
    if not restore:
        return None
    if not leaves_server:
        _set_agent(agent.id, status=job.previous_status)
        return None
    removal = _create_job(agent, kind=JobKind.DEPROVISION, goal=AgentStatus.STOPPED,
                          message=f'{reason} Removing any server the cancelled work may have created.')
    _set_agent(agent.id, status=AgentStatus.STOPPING, status_reason='')
    return removal
