"""Provisioning jobs: the table is the truth, workers only move it forward.

Deploy, Stop, Delete, Retry and Cancel change jobs and agents inside one write transaction each; the dispatcher
(`services/scheduler.py`) then works on due jobs through `due_job_ids` and `work_on`, which claim a job by
compare-and-set before talking to GitHub. Callbacks and GitHub's `workflow_run` webhook only ever move a job
forward; the reaper fails jobs that went silent. Every function here is synchronous: async callers use
`run.io_bound` (never `await` inside a transaction: all coroutines share one connection).
"""
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from models import (
    FINISHED_JOB_STATUSES,
    OPEN_JOB_STATUSES,
    Agent,
    JobEvent,
    ProvisioningJob,
    User,
    db,
    is_sqlite,
    utcnow,
    write_transaction,
)

from . import events, failure_reasons, gate, metrics, notifications, servers
from .agents import AgentError
from .errors import DomainError
from .github import (
    FAILED_CONCLUSIONS,
    GitHub,
    GitHubError,
    Run,
    backoff_seconds,
    is_configured_workflow,
    job_for_run_name,
)
from .settings import get_settings

log = logging.getLogger(__name__)

DEPLOYABLE_STATUSES = ('draft', 'stopped', 'failed')
STATUS_RANK = {'queued': 0, 'dispatching': 1, 'dispatched': 2, 'in_progress': 3, 'succeeded': 4, 'failed': 4,
               'cancelled': 4}
STEPS = {'provision': ('queued', 'dispatched', 'server_created', 'agent_starting', 'running'),
         'deprovision': ('queued', 'dispatched', 'server_deleted', 'stopped')}
"""The named steps a page shows for each kind of job, in order; callbacks name the ones in the middle."""
STEP_LABELS = {'queued': 'Queued', 'dispatched': 'Dispatched', 'server_created': 'Server created',
               'agent_starting': 'Agent starting', 'running': 'Running', 'server_deleted': 'Server deleted',
               'stopped': 'Stopped', 'deleted': 'Deleted'}
CALLBACK_STATUSES = ('in_progress', 'progress', 'succeeded', 'failed')
RUN_LISTING_DELAY = 10.0
"""Seconds before looking for the run of a dispatch whose answer was lost: GitHub lists new runs with a delay."""


class ProvisioningError(DomainError):
    pass


def provisioning_is_configured() -> bool:
    settings = get_settings()
    return bool(settings.github_token and settings.github_repository and settings.callback_secret)


def callback_url() -> str:
    return f'{get_settings().public_url}/api/provisioning/callback'


def dispatch_lease() -> timedelta:
    """How long a claimed dispatch may take (a run lookup, the dispatch, its fallback) before it counts as dead."""
    return timedelta(seconds=3 * get_settings().github_timeout_seconds + 1)


# --- what users ask for -------------------------------------------------------------------------------------------

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
                agent = _locked_agent(owner, agent_id)
                existing = _job_for_key(key, agent) or _open_job(agent.id)
                if existing is not None:
                    if existing.kind != 'provision' and existing.is_open:
                        raise AgentError('AGENT_BUSY', f'The agent is {agent.status}; wait until that finishes '
                                                       'before deploying it again.')
                    return existing
                if agent.status not in DEPLOYABLE_STATUSES:
                    raise AgentError('AGENT_NOT_DEPLOYABLE', f'The agent is {agent.status}; only draft, stopped or '
                                                             'failed agents can be deployed.')
                gate.check_can_deploy(user=owner, agent=agent)
                _require_configuration()
                job = _create_job(agent, kind='provision', goal='running', key=key,
                                  message='Deploy requested; waiting to dispatch the workflow.')
                _set_agent(agent.id, status='provisioning', status_reason='')
            break
        except peewee.IntegrityError:
            continue
    else:
        raise ProvisioningError('AGENT_BUSY', 'Another request changed this agent at the same time; try again.')
    _announce(agent, job)
    return job


def request_stop(*, owner: User, agent_id: int, reason: str = '') -> ProvisioningJob | None:
    """Queue the removal of the agent's server, leaving it `stopped`; idempotent (an open stop is returned).

    Returns None when there is nothing to stop (draft, stopped, or failed before any server could exist), and the
    cancelled deploy when one was queued but never reached GitHub. Billing calls this when an entitlement is lost,
    with the reason for the timeline.
    """
    return _request_removal(owner=owner, agent_id=agent_id, goal='stopped', reason=reason or 'Stop requested.',
                            require_configuration=False)


def stop_agent(*, owner: User, agent_id: int) -> ProvisioningJob:
    """Stop from the page or the API: like `request_stop`, but refuses when there is nothing to stop or no way to."""
    job = _request_removal(owner=owner, agent_id=agent_id, goal='stopped', reason='Stop requested.')
    if job is None:
        agent = Agent.get_by_id(agent_id)
        raise AgentError('AGENT_NOT_RUNNING', f'The agent is {agent.status}; there is no server to stop.')
    return job


def request_delete(*, owner: User, agent_id: int) -> Agent:
    """Delete an agent: at once when it has no server, else after a deprovision job (`deleting` → `deleted`)."""
    _request_removal(owner=owner, agent_id=agent_id, goal='deleted', reason='Delete requested.')
    return Agent.get_by_id(agent_id)


def retry(*, owner: User, agent_id: int) -> ProvisioningJob:
    """Try a failed agent's last job again, as a new job of the same kind."""
    agent = _agent(owner, agent_id)
    last = last_job(agent.id)
    if agent.status != 'failed':
        raise AgentError('AGENT_NOT_FAILED', f'The agent is {agent.status}; only a failed agent can be retried.')
    if last is None or last.kind == 'provision':
        return request_deploy(owner=owner, agent_id=agent_id)
    job = _request_removal(owner=owner, agent_id=agent_id, goal=last.goal, reason='Retry requested.')
    if job is None:
        raise AgentError('AGENT_NOT_RUNNING', 'No server is left to remove; deploy the agent again or delete it.')
    return job


def cancel(*, owner: User, agent_id: int) -> ProvisioningJob:
    """Cancel the agent's open job and, once its run is known, the run on GitHub; returns the cancelled job.

    When the job may have reached GitHub (or a server may be left from before), a deprovision follows at once:
    a cancelled run may already have created a server, and that server counts against the plan until it is gone.
    """
    with write_transaction():
        agent = _locked_agent(owner, agent_id)
        job = _open_job(agent.id)
        if job is None:
            raise AgentError('NO_OPEN_JOB', 'Nothing is in progress for this agent.')
        removal = _cancel_open_job(job, agent, 'Cancelled by the owner.')
    _announce(agent, job)
    if removal is not None:
        _announce(agent, removal)
    return ProvisioningJob.get_by_id(job.id)


def _request_removal(*, owner: User, agent_id: int, goal: str, reason: str,
                     require_configuration: bool = True) -> ProvisioningJob | None:
    with write_transaction():
        agent = _locked_agent(owner, agent_id)
        job = _open_job(agent.id)
        if job is not None and job.kind == 'deprovision':
            if goal == 'deleted' and job.goal != 'deleted':
                ProvisioningJob.update(goal='deleted', updated_at=utcnow()).where(ProvisioningJob.id == job.id) \
                    .execute()
                _event(job.id, 'delete_requested', 'Delete requested; the agent is deleted once the server is gone.')
                _set_agent(agent.id, status='deleting')
            removal = job
        else:
            server_may_exist = _server_may_exist(agent, job)
            if job is not None:
                _cancel_open_job(job, agent, f'Cancelled: {reason}', restore=False)
            if server_may_exist:
                if require_configuration:
                    _require_configuration()
                removal = _create_job(agent, kind='deprovision', goal=goal, message=reason)
                _set_agent(agent.id, status='stopping' if goal == 'stopped' else 'deleting')
            else:
                removal = job  # the cancelled deploy, if any: nothing reached GitHub, so no server to remove
                if goal == 'deleted':
                    _set_agent(agent.id, status='deleted')
                elif job is not None:
                    _set_agent(agent.id, status=job.previous_status if job.previous_status != 'failed' else 'stopped')
    _announce(agent, removal)
    return ProvisioningJob.get_by_id(removal.id) if removal is not None else None


def _server_may_exist(agent: Agent, open_job: ProvisioningJob | None) -> bool:
    """Whether a server may be up: a reported one, a running agent, or work after a failure that reached GitHub."""
    if agent.server_id or agent.status in ('running', 'stopping', 'deleting'):
        return True
    if open_job is not None and (open_job.status != 'queued' or open_job.maybe_dispatched):
        return True
    if agent.status != 'failed' and (open_job is None or open_job.previous_status != 'failed'):
        return False
    return servers.may_have_reached_github(servers.last_finished_jobs([agent.id]).get(agent.id))


# --- reading -----------------------------------------------------------------------------------------------------

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
    agent = _agent(owner, agent_id)
    newest = (JobEvent.select(JobEvent, ProvisioningJob).join(ProvisioningJob)
              .where(ProvisioningJob.agent == agent.id).order_by(JobEvent.time.desc(), JobEvent.id.desc())
              .limit(limit))
    return list(reversed(list(newest)))


@dataclass
class AgentState:
    agent: Agent
    job: ProvisioningJob | None
    events: list[JobEvent]


def agent_state(*, owner: User, agent_id: int) -> AgentState:
    """Everything the agent page shows, read in one go (the page rebuilds from this after every change)."""
    with db.atomic():  # one snapshot on SQLite; elsewhere pages read again after any change (events.Coalesced)
        agent = _agent(owner, agent_id)
        return AgentState(agent, last_job(agent.id), timeline(owner=owner, agent_id=agent_id, limit=100))


def agents_with_jobs(*, owner: User) -> list[tuple[Agent, ProvisioningJob | None]]:
    from .agents import list_agents
    agents = list_agents(owner=owner)
    jobs = latest_jobs([agent.id for agent in agents])
    return [(agent, jobs.get(agent.id)) for agent in agents]


# --- the dispatcher's work ---------------------------------------------------------------------------------------

def due_job_ids(now: datetime | None = None) -> list[int]:
    """Jobs to work on now: queued and due, dispatching past their lease (a crashed attempt), runs to cancel."""
    now = now or utcnow()
    Job = ProvisioningJob
    query = Job.select(Job.id).where(
        ((Job.status == 'queued') & (Job.next_attempt_at.is_null() | (Job.next_attempt_at <= now)))
        | ((Job.status == 'dispatching') & (Job.claimed_at < now - dispatch_lease()))
        | (Job.cancel_run == True))  # noqa: E712
    return [job.id for job in query.order_by(Job.id).limit(100)]


def next_wake_at(now: datetime | None = None) -> datetime | None:
    """When the next job becomes due (a retry's time, a dispatch lease running out), if any."""
    now = now or utcnow()
    Job = ProvisioningJob
    retry_at = Job.select(peewee.fn.MIN(Job.next_attempt_at)).where(
        (Job.status == 'queued') & (Job.next_attempt_at > now)).scalar()
    claimed = Job.select(peewee.fn.MIN(Job.claimed_at)).where(Job.status == 'dispatching').scalar()
    candidates = [moment for moment in (retry_at, claimed and claimed + dispatch_lease()) if moment]
    return min(candidates) if candidates else None


def work_on(job_id: int) -> None:
    """Do what a job needs now, if this worker wins the claim; safe to call from any number of threads."""
    job = ProvisioningJob.get_or_none(ProvisioningJob.id == job_id)
    if job is None:
        return
    if job.cancel_run:
        _cancel_run(job)
        return
    token = secrets.token_hex(16)
    now = utcnow()
    Job = ProvisioningJob
    if job.status == 'queued':
        claimed = Job.update(status='dispatching', claim_token=token, claimed_at=now, attempts=Job.attempts + 1,
                             updated_at=now) \
            .where((Job.id == job.id) & (Job.status == 'queued')
                   & (Job.next_attempt_at.is_null() | (Job.next_attempt_at <= now))).execute()
    elif job.status == 'dispatching' and job.claimed_at < now - dispatch_lease():
        # The worker that claimed it died mid-dispatch (a crash, SIGKILL): its request may have reached GitHub.
        claimed = Job.update(claim_token=token, claimed_at=now, maybe_dispatched=True, updated_at=now) \
            .where((Job.id == job.id) & (Job.status == 'dispatching') & (Job.claim_token == job.claim_token)) \
            .execute()
        if claimed:
            _event(job.id, 'reconciling', 'An earlier dispatch was interrupted; looking for its run before '
                                          'sending it again.')
    else:
        return
    if not claimed:
        return  # another worker has it
    job = Job.get_by_id(job.id)
    _dispatch(job, token)


def _dispatch(job: ProvisioningJob, token: str) -> None:
    github = GitHub()
    agent = Agent.get_by_id(job.agent_id)
    if not provisioning_is_configured():
        _dispatch_failed(job, token, GitHubError('Provisioning is not set up: the operator must set GITHUB_TOKEN, '
                                                 'GITHUB_REPOSITORY and CALLBACK_SECRET.', transient=False))
        return
    try:
        if job.maybe_dispatched:
            run = github.find_run(action=job.kind, job_id=job.id, created_after=job.created_at)
            if run is not None:
                _dispatched(job, token, run, 'Found the run of an earlier attempt on GitHub; not dispatching again.')
                return
        _event(job.id, 'dispatching', f'Dispatching the workflow (attempt {job.attempts}).')
        with metrics.dispatch_duration.time():
            run = github.dispatch(job_id=job.id, agent_id=agent.id, action=job.kind, region=agent.region,
                                  size=agent.size, callback_url=callback_url())
    except GitHubError as error:
        metrics.dispatch_attempts.labels(outcome='transient' if error.transient else 'permanent').inc()
        _dispatch_failed(job, token, error)
        return
    metrics.dispatch_attempts.labels(outcome='accepted').inc()
    _dispatched(job, token, run, 'GitHub accepted the workflow dispatch.')


def _dispatched(job: ProvisioningJob, token: str, run: Run | None, message: str) -> None:
    now = utcnow()
    Job = ProvisioningJob
    fields = {'run_id': run.id, 'run_url': run.html_url or None} if run else {}
    with write_transaction():
        moved = Job.update(status='dispatched', step='dispatched', claim_token=None, last_error='',
                           maybe_dispatched=False, last_news_at=now, updated_at=now, **fields) \
            .where((Job.id == job.id) & (Job.status == 'dispatching') & (Job.claim_token == token)).execute()
        if moved:
            _event(job.id, 'dispatched', message + (f' Run {run.html_url or run.id}.' if run else ''))
        elif run is not None:
            # A callback moved the job on, or the owner cancelled it, while the request was under way.
            Job.update(**fields).where((Job.id == job.id) & Job.run_id.is_null()).execute()
            Job.update(cancel_run=True).where((Job.id == job.id) & (Job.status == 'cancelled')).execute()
    _announce(Agent.get_by_id(job.agent_id), Job.get_by_id(job.id))


def _dispatch_failed(job: ProvisioningJob, token: str, error: GitHubError) -> None:
    settings = get_settings()
    Job = ProvisioningJob
    now = utcnow()
    if error.transient and job.attempts < settings.github_dispatch_attempts:
        delay = backoff_seconds(job.attempts, settings=settings, wait=error.wait)
        if error.maybe_sent:  # give GitHub's run list time to show a run the lost request may have started
            delay = max(delay, min(RUN_LISTING_DELAY, settings.github_retry_max_seconds))
        with write_transaction():
            moved = Job.update(status='queued', claim_token=None, next_attempt_at=now + timedelta(seconds=delay),
                               maybe_dispatched=job.maybe_dispatched or error.maybe_sent, last_error=error.message,
                               updated_at=now) \
                .where((Job.id == job.id) & (Job.status == 'dispatching') & (Job.claim_token == token)).execute()
            if moved:
                attempts = settings.github_dispatch_attempts
                _event(job.id, 'retry_scheduled', f'{error.message} Trying again in {delay:.1f} s '
                                                  f'(attempt {job.attempts + 1} of {attempts}).')
        log.warning('job %s: transient GitHub failure, retry in %.1f s: %s', job.id, delay, error.message)
    else:
        message = error.message if not error.transient else \
            f'{error.message} Gave up after {job.attempts} attempts; use Retry once GitHub answers again.'
        with write_transaction():
            _finish(job, 'failed', error=message, token=token)
        log.warning('job %s failed: %s', job.id, message)
        notifications.dispatch_failing(f'job {job.id} ({job.kind} of agent {job.agent_id})', message)
    _announce(Agent.get_by_id(job.agent_id), Job.get_by_id(job.id))


def _cancel_run(job: ProvisioningJob) -> None:
    """Cancel a finished job's run on GitHub (Cancel, the reaper, a stop that overtook a deploy)."""
    github = GitHub()
    try:
        run_id = job.run_id
        if run_id is None:
            run = github.find_run(action=job.kind, job_id=job.id, created_after=job.created_at)
            run_id = run.id if run else None
        if run_id is None:
            message = 'No workflow run was found on GitHub, so there is nothing to cancel.'
        elif github.cancel_run(run_id):
            message = f'Asked GitHub to cancel run {run_id}.'
        else:
            message = f'Run {run_id} had already finished.'
    except GitHubError as error:
        message = f'Could not cancel the run: {error.message}'
        if error.transient and (utcnow() - job.updated_at) < timedelta(hours=1):
            log.warning('job %s: cancelling its run failed, will try again: %s', job.id, error.message)
            return
    with write_transaction():
        if ProvisioningJob.update(cancel_run=False).where((ProvisioningJob.id == job.id)
                                                          & (ProvisioningJob.cancel_run == True)).execute():  # noqa: E712
            _event(job.id, 'run_cancelled', message)
    _announce(Agent.get_by_id(job.agent_id), job)


def reap_silent_jobs(now: datetime | None = None) -> list[int]:
    """Fail (and cancel) dispatched jobs that sent no news for PROVISION_TIMEOUT_MINUTES, saying why."""
    now = now or utcnow()
    minutes = get_settings().provision_timeout_minutes
    cutoff = now - timedelta(minutes=minutes)
    Job = ProvisioningJob
    silent = list(Job.select().where(Job.status.in_(('dispatched', 'in_progress')) & (Job.last_news_at < cutoff)))
    github = GitHub()
    reaped = []
    for job in silent:
        cancel_run = False
        try:
            run = github.get_run(job.run_id) if job.run_id else \
                github.find_run(action=job.kind, job_id=job.id, created_after=job.created_at)
        except GitHubError as error:
            reason = f'No news for {minutes} minutes, and GitHub could not be asked about the run: {error.message}'
            run, cancel_run = None, bool(job.run_id)
        else:
            if run is None:
                reason = f'No news for {minutes} minutes, and GitHub has no run for this job.'
            elif run.status == 'completed':
                reason = (f'The workflow run ended ({run.conclusion}) without reporting back: {run.html_url}. '
                          'Check that PUBLIC_URL is reachable from GitHub and the CALLBACK_SECRET matches.')
            else:
                reason = f'No news for {minutes} minutes while the run was {run.status}; cancelled it: {run.html_url}'
                cancel_run = True
        with write_transaction():
            fields: dict[str, Any] = {'run_id': run.id, 'run_url': run.html_url or job.run_url} if run else {}
            finished = _finish(job, 'failed', error=reason, cancel_run=cancel_run, silent_before=cutoff, **fields)
        if finished:
            reaped.append(job.id)
            log.warning('job %s reaped: %s', job.id, reason)
            _announce(Agent.get_by_id(job.agent_id), job)
            if cancel_run:
                events.job_queued(job.id)
    return reaped


# --- news from the workflow ----------------------------------------------------------------------------------------

@dataclass
class Report:
    """One verified callback from the workflow."""
    job_id: int
    status: str
    step: str = ''
    message: str = ''
    ip_address: str = ''
    server_id: str = ''
    run_id: str = ''
    run_url: str = ''


def apply_report(report: Report) -> tuple[ProvisioningJob, bool]:
    """Move the job forward by a callback; returns the job and whether anything changed (late ones change nothing)."""
    Job = ProvisioningJob
    with write_transaction():
        job = _locked_job(report.job_id)
        if job is None:
            raise ProvisioningError('NOT_FOUND', f'There is no provisioning job {report.job_id}.')
        if job.status in FINISHED_JOB_STATUSES:
            return job, False
        step = report.step or {'in_progress': 'in_progress', 'progress': 'progress'}.get(report.status,
                                                                                          report.status)
        message = report.message or _default_message(report.status, step)
        if report.status in ('in_progress', 'progress') and \
                JobEvent.select().where((JobEvent.job == job.id) & (JobEvent.step == step)
                                        & (JobEvent.message == message)).exists():
            return job, False  # the same report again (report.py retried after a lost answer)
        now = utcnow()
        fields: dict = {'last_news_at': now, 'updated_at': now}
        if report.run_id and not job.run_id:
            fields.update(run_id=report.run_id, run_url=report.run_url or None)
        if report.ip_address or report.server_id:
            _set_agent(job.agent_id, **({'ip_address': report.ip_address} if report.ip_address else {}),
                       **({'server_id': report.server_id} if report.server_id else {}))
        if report.status in ('in_progress', 'progress'):
            if STATUS_RANK[job.status] < STATUS_RANK['in_progress']:
                fields['status'] = 'in_progress'
            if step in steps_of(job) and steps_of(job).index(step) > _step_index(job):
                fields['step'] = step
            Job.update(**fields).where(Job.id == job.id).execute()
            _event(job.id, step, message)
        else:
            final = steps_of(job)[-1] if report.status == 'succeeded' else 'failed'
            own_step = bool(report.step) and report.step != final
            Job.update(**fields).where(Job.id == job.id).execute()
            job = Job.get_by_id(job.id)
            if own_step and not JobEvent.select().where((JobEvent.job == job.id)
                                                        & (JobEvent.step == report.step)).exists():
                _event(job.id, report.step, message)  # the callback's own step first, then the final one
            if report.status == 'succeeded':
                _finish(job, 'succeeded', message=_default_message('succeeded', final) if own_step else message)
            else:
                _finish(job, 'failed', error=message + (f' ({job.run_url})' if job.run_url else ''))
    job = Job.get_by_id(job.id)
    _announce(Agent.get_by_id(job.agent_id), job)
    return job, True


def apply_workflow_run(payload: dict) -> str:
    """GitHub's `workflow_run` webhook: the safety net for runs that die without reporting. Returns what it did."""
    run = payload.get('workflow_run') or {}
    repository = (payload.get('repository') or {}).get('full_name', '')
    settings = get_settings()
    if not run or repository.lower() != settings.github_repository.lower() \
            or not is_configured_workflow(run, settings.github_workflow):
        return 'ignored'
    run_id, html_url = str(run.get('id', '')), str(run.get('html_url') or '')
    named = job_for_run_name(str(run.get('display_title') or run.get('name') or ''))
    Job = ProvisioningJob
    with write_transaction():
        job = Job.get_or_none(Job.run_id == run_id) if run_id else None
        if job is None and named is not None:
            job = Job.get_or_none((Job.id == named[1]) & (Job.kind == named[0]))
        if job is None:
            return 'ignored'
        job = _locked_job(job.id)
        if job.run_id and job.run_id != run_id:
            return 'ignored'  # the job knows its run: a namesake run is someone else's
        if job.run_id is None and run_id:
            Job.update(run_id=run_id, run_url=html_url or None).where(Job.id == job.id).execute()
        if job.status in FINISHED_JOB_STATUSES:
            return 'ignored'
        now = utcnow()
        action, conclusion = payload.get('action'), run.get('conclusion')
        if action == 'completed' and conclusion in FAILED_CONCLUSIONS:
            reason = f'The workflow run ended with {conclusion}: {html_url}'
            _finish(job, 'failed', error=reason, run_url=html_url or job.run_url)
        elif action == 'in_progress' and STATUS_RANK[job.status] < STATUS_RANK['in_progress']:
            Job.update(status='in_progress', last_news_at=now, updated_at=now).where(Job.id == job.id).execute()
            _event(job.id, 'in_progress', f'The workflow run started on GitHub: {html_url}')
        else:
            return 'ignored'
    _announce(Agent.get_by_id(job.agent_id), job)
    return 'processed'


# --- helpers -----------------------------------------------------------------------------------------------------

def _require_configuration() -> None:
    if not provisioning_is_configured():
        raise ProvisioningError('PROVISIONING_NOT_CONFIGURED', 'Provisioning is not set up yet. The operator must '
                                                               'set GITHUB_TOKEN, GITHUB_REPOSITORY and '
                                                               'CALLBACK_SECRET.')


def _agent(owner: User, agent_id: int) -> Agent:
    from .agents import get_agent
    return get_agent(owner=owner, agent_id=agent_id)


def _lock_owner(owner: User) -> None:
    """PostgreSQL: serialise one owner's deploys so the plan limit holds (SQLite's IMMEDIATE already does)."""
    if not is_sqlite():
        User.select(User.id).where(User.id == owner.id).for_update().execute()


def _locked_agent(owner: User, agent_id: int) -> Agent:
    query = Agent.select().where((Agent.id == agent_id) & (Agent.owner == owner) & (Agent.status != 'deleted'))
    agent = (query if is_sqlite() else query.for_update()).first()
    if agent is None:
        raise AgentError('NOT_FOUND', f'There is no agent {agent_id}.')
    return agent


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


def _create_job(agent: Agent, *, kind: str, goal: str, message: str, key: str | None = None) -> ProvisioningJob:
    job = ProvisioningJob.create(agent=agent, kind=kind, goal=goal, previous_status=agent.status,
                                 open_agent=agent.id, idempotency_key=key or f'job:{secrets.token_hex(16)}')
    _event(job.id, 'queued', message)
    return job


def _cancel_open_job(job: ProvisioningJob, agent: Agent, reason: str, *,
                     restore: bool = True) -> ProvisioningJob | None:
    """Inside a transaction: cancel `job`; its run is cancelled by the dispatcher once known.

    With `restore`, the agent goes back to where it was when nothing reached GitHub; otherwise (or when a failed
    agent's earlier run may have left a server) a deprovision is queued and returned, so no server outlives the
    cancel unseen by the plan.
    """
    reached_github = job.status != 'queued' or job.maybe_dispatched
    leaves_server = restore and (reached_github or (job.previous_status != 'running'
                                                    and _server_may_exist(agent, job)))
    _finish(job, 'cancelled', error=reason, cancel_run=reached_github, agent_update=restore)
    if not restore:
        return None
    if not leaves_server:
        _set_agent(agent.id, status=job.previous_status)
        return None
    removal = _create_job(agent, kind='deprovision', goal='stopped',
                          message=f'{reason} Removing any server the cancelled work may have created.')
    _set_agent(agent.id, status='stopping', status_reason='')
    return removal


def _finish(job: ProvisioningJob, status: str, *, error: str = '', message: str = '', token: str | None = None,
            cancel_run: bool = False, agent_update: bool = True, silent_before: datetime | None = None,
            **fields) -> bool:
    """Inside a transaction: close an open job (compare-and-set) and move its agent to where the job led."""
    Job = ProvisioningJob
    now = utcnow()
    condition = (Job.id == job.id) & Job.status.in_(OPEN_JOB_STATUSES)
    if token is not None:
        condition &= (Job.status == 'dispatching') & (Job.claim_token == token)
    if silent_before is not None:
        condition &= Job.last_news_at < silent_before
    step = steps_of(job)[-1] if status == 'succeeded' else job.step
    if not Job.update(status=status, open_agent=None, claim_token=None, last_error=error, cancel_run=cancel_run,
                      step=step, updated_at=now, **fields).where(condition).execute():
        return False
    _event(job.id, status if status != 'succeeded' else step, message or error or _default_message(status, step))
    if status in ('succeeded', 'failed'):
        db.after_commit(lambda: _tell_the_outcome(job, status))
    if not agent_update:
        return True
    if status == 'succeeded':
        if job.kind == 'provision':
            _set_agent(job.agent_id, status='running', status_reason='')
        else:
            _set_agent(job.agent_id, status=job.goal, status_reason='', ip_address=None, server_id=None)
    elif status == 'failed':
        prefix = '' if job.kind == 'provision' else ('Stopping' if job.goal == 'stopped' else 'Deleting') + ' failed: '
        _set_agent(job.agent_id, status='failed', status_reason=prefix + error)
    return True


def _tell_the_outcome(job: ProvisioningJob, status: str) -> None:
    """After the commit: the provisioning time for the metrics, and a mail to the owner."""
    if job.kind == 'provision':
        metrics.provisioning_duration.observe((utcnow() - job.created_at).total_seconds())
    agent = Agent.get_by_id(job.agent_id)
    if status == 'failed':
        notifications.agent_failed(agent, failure_reasons.failure_mail_reason(job))
    elif job.kind == 'provision':
        notifications.agent_running(agent)


def _set_agent(agent_id: int, **fields) -> None:
    Agent.update(**fields, updated_at=utcnow()).where(Agent.id == agent_id).execute()


def _event(job_id: int, step: str, message: str) -> None:
    JobEvent.create(job=job_id, step=step, message=message)


def steps_of(job: ProvisioningJob) -> tuple[str, ...]:
    """The named steps of this job, in order (a deprovision ends in `stopped` or `deleted`)."""
    return STEPS['provision'] if job.kind == 'provision' else (*STEPS['deprovision'][:-1], job.goal)


def _step_index(job: ProvisioningJob) -> int:
    steps = steps_of(job)
    return steps.index(job.step) if job.step in steps else 0


def _default_message(status: str, step: str) -> str:
    return {'in_progress': 'The workflow started.', 'succeeded': 'Finished.', 'failed': 'The workflow failed.',
            'cancelled': 'Cancelled.'}.get(status, STEP_LABELS.get(step, step.replace('_', ' ').capitalize()) + '.')


def _announce(agent: Agent, job: ProvisioningJob | None) -> None:
    """After the commit: tell open pages, and wake the dispatcher when the job can be worked on now."""
    events.agent_updated(agent.owner_id, agent.id)
    if job is not None:
        job = ProvisioningJob.get_by_id(job.id)
        if job.status == 'queued' or job.cancel_run:
            events.job_queued(job.id)
