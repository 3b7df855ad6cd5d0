"""The reaper: fails (and cancels) dispatched jobs that went silent, saying why."""
import logging
from datetime import datetime, timedelta
from typing import Any

from models import Agent, JobStatus, ProvisioningJob, utcnow, write_transaction

from ..platform import events
from ..platform.settings import get_settings
from ..platform.workers import once_across_instances
from .github import GitHub, GitHubError
from .jobs import _finish, announce

log = logging.getLogger('services.provisioning')

@once_across_instances('reaper', skipped=[])
def reap_silent_jobs(now: datetime | None = None) -> list[int]:
    """Fail (and cancel) dispatched jobs that sent no news for PROVISION_TIMEOUT_MINUTES, saying why."""
    now = now or utcnow()
    minutes = get_settings().provision_timeout_minutes
    cutoff = now - timedelta(minutes=minutes)
    Job = ProvisioningJob
    silent = list(Job.select().where(Job.status.in_((JobStatus.DISPATCHED, JobStatus.IN_PROGRESS))
                                     & (Job.last_news_at < cutoff)))
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
            finished = _finish(job, JobStatus.FAILED, error=reason, cancel_run=cancel_run, silent_before=cutoff,
                               **fields)
        if finished:
            reaped.append(job.id)
            log.warning('job %s reaped: %s', job.id, reason)
            announce(Agent.get_by_id(job.agent_id), job)
            if cancel_run:
                events.job_queued(job.id)
    return reaped
