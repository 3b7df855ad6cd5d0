"""The dispatcher's work: which jobs are due, claiming one by compare-and-set, dispatching it to GitHub.

A transient failure queues the job again after a back-off; a lost answer makes the next attempt look for the run
first. Cancelled jobs get their run cancelled here once it is known.
"""
import logging
import secrets
from datetime import datetime, timedelta

import peewee

from models import Agent, JobStatus, ProvisioningJob, utcnow, write_transaction

from ..platform import metrics, notifications
from ..platform.settings import get_settings
from . import local
from .github import GitHub, GitHubError, Run, dispatch_retry
from .jobs import _finish, announce, provisioning_is_configured, record_event

log = logging.getLogger('services.provisioning')

RUN_LISTING_DELAY = 10.0
"""Seconds before looking for the run of a dispatch whose answer was lost: GitHub lists new runs with a delay."""


def callback_url() -> str:
    return f'{get_settings().public_url}/api/provisioning/callback'


def dispatch_lease() -> timedelta:
    """How long a claimed dispatch may take (a run lookup, the dispatch, its fallback) before it counts as dead."""
    return timedelta(seconds=3 * get_settings().github_timeout_seconds + 1)


def due_job_ids(now: datetime | None = None) -> list[int]:
    """Jobs to work on now: queued and due, dispatching past their lease (a crashed attempt), runs to cancel."""
    now = now or utcnow()
    Job = ProvisioningJob
    query = Job.select(Job.id).where(
        ((Job.status == JobStatus.QUEUED) & (Job.next_attempt_at.is_null() | (Job.next_attempt_at <= now)))
        | ((Job.status == JobStatus.DISPATCHING) & (Job.claimed_at < now - dispatch_lease()))
        | (Job.cancel_run == True))  # noqa: E712
    return [job.id for job in query.order_by(Job.id).limit(100)]


def next_wake_at(now: datetime | None = None) -> datetime | None:
    """When the next job becomes due (a retry's time, a dispatch lease running out), if any."""
    now = now or utcnow()
    Job = ProvisioningJob
    retry_at = Job.select(peewee.fn.MIN(Job.next_attempt_at)).where(
        (Job.status == JobStatus.QUEUED) & (Job.next_attempt_at > now)).scalar()
    claimed = Job.select(peewee.fn.MIN(Job.claimed_at)).where(Job.status == JobStatus.DISPATCHING).scalar()
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
    if job.status == JobStatus.QUEUED:
        claimed = Job.update(status=JobStatus.DISPATCHING, claim_token=token, claimed_at=now, attempts=Job.attempts + 1,
                             updated_at=now) \
            .where((Job.id == job.id) & (Job.status == JobStatus.QUEUED)
                   & (Job.next_attempt_at.is_null() | (Job.next_attempt_at <= now))).execute()
    elif job.status == JobStatus.DISPATCHING and job.claimed_at < now - dispatch_lease():
        # The worker that claimed it died mid-dispatch (a crash, SIGKILL): its request may have reached GitHub.
        claimed = Job.update(claim_token=token, claimed_at=now, maybe_dispatched=True, updated_at=now) \
            .where((Job.id == job.id) & (Job.status == JobStatus.DISPATCHING) & (Job.claim_token == job.claim_token)) \
            .execute()
        if claimed:
            record_event(job.id, 'reconciling', 'An earlier dispatch was interrupted; looking for its run before '
                                          'sending it again.')
    else:
        return
    if not claimed:
        return  # another worker has it
    job = Job.get_by_id(job.id)
    _dispatch(job, token)


def _dispatch(job: ProvisioningJob, token: str) -> None:
    if local.is_local():
        local.carry_out(job)
        return
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
        record_event(job.id, JobStatus.DISPATCHING, f'Dispatching the workflow (attempt {job.attempts}).')
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
        moved = Job.update(status=JobStatus.DISPATCHED, step=JobStatus.DISPATCHED, claim_token=None, last_error='',
                           maybe_dispatched=False, last_news_at=now, updated_at=now, **fields) \
            .where((Job.id == job.id) & (Job.status == JobStatus.DISPATCHING) & (Job.claim_token == token)).execute()
        if moved:
            record_event(job.id, JobStatus.DISPATCHED, message + (f' Run {run.html_url or run.id}.' if run else ''))
        elif run is not None:
            # A callback moved the job on, or the owner cancelled it, while the request was under way.
            Job.update(**fields).where((Job.id == job.id) & Job.run_id.is_null()).execute()
            Job.update(cancel_run=True).where((Job.id == job.id) & (Job.status == JobStatus.CANCELLED)).execute()
    announce(Agent.get_by_id(job.agent_id), Job.get_by_id(job.id))


def _dispatch_failed(job: ProvisioningJob, token: str, error: GitHubError) -> None:
    settings = get_settings()
    Job = ProvisioningJob
    now = utcnow()
    policy = dispatch_retry(settings)
    if error.transient and not policy.exhausted(job.attempts):
        delay = policy.delay(job.attempts - 1, error.wait)  # the first retry waits up to the base
        if error.maybe_sent:  # give GitHub's run list time to show a run the lost request may have started
            delay = max(delay, min(RUN_LISTING_DELAY, settings.github_retry_max_seconds))
        with write_transaction():
            moved = Job.update(status=JobStatus.QUEUED, claim_token=None,
                               next_attempt_at=now + timedelta(seconds=delay),
                               maybe_dispatched=job.maybe_dispatched or error.maybe_sent, last_error=error.message,
                               updated_at=now) \
                .where((Job.id == job.id) & (Job.status == JobStatus.DISPATCHING) & (Job.claim_token == token)) \
                .execute()
            if moved:
                record_event(job.id, 'retry_scheduled', f'{error.message} Trying again in {delay:.1f} s '
                                                  f'(attempt {job.attempts + 1} of {policy.attempts}).')
        log.warning('job %s: transient GitHub failure, retry in %.1f s: %s', job.id, delay, error.message)
    else:
        message = error.message if not error.transient else \
            f'{error.message} Gave up after {job.attempts} attempts; use Retry once GitHub answers again.'
        with write_transaction():
            _finish(job, JobStatus.FAILED, error=message, token=token)
        log.warning('job %s failed: %s', job.id, message)
        notifications.dispatch_failing(f'job {job.id} ({job.kind} of agent {job.agent_id})', message)
    announce(Agent.get_by_id(job.agent_id), Job.get_by_id(job.id))


def _cancel_run(job: ProvisioningJob) -> None:
    """Cancel a finished job's run on GitHub (Cancel, the reaper, a stop that overtook a deploy)."""
    if local.is_local():
        local.settle_cancelled(job)
        return
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
            record_event(job.id, 'run_cancelled', message)
    announce(Agent.get_by_id(job.agent_id), job)
