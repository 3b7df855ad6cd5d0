"""GitHub's `workflow_run` webhook: the safety net for runs that die without reporting back."""
from models import FINISHED_JOB_STATUSES, Agent, EventStatus, JobStatus, ProvisioningJob, utcnow, write_transaction

from ..platform.settings import get_settings
from .jobs import STATUS_RANK, _finish, _locked_job, announce, record_event
from .run_names import FAILED_CONCLUSIONS, is_configured_workflow, job_for_run_name


def apply_workflow_run(payload: dict) -> EventStatus:
    """GitHub's `workflow_run` webhook: the safety net for runs that die without reporting. Returns what it did."""
    run = payload.get('workflow_run') or {}
    repository = (payload.get('repository') or {}).get('full_name', '')
    settings = get_settings()
    if not run or repository.lower() != settings.github_repository.lower() \
            or not is_configured_workflow(run, settings.github_workflow):
        return EventStatus.IGNORED
    run_id, html_url = str(run.get('id', '')), str(run.get('html_url') or '')
    named = job_for_run_name(str(run.get('display_title') or run.get('name') or ''))
    Job = ProvisioningJob
    with write_transaction():
        job = Job.get_or_none(Job.run_id == run_id) if run_id else None
        if job is None and named is not None:
            job = Job.get_or_none((Job.id == named[1]) & (Job.kind == named[0]))
        if job is None:
            return EventStatus.IGNORED
        job = _locked_job(job.id)
        if job.run_id and job.run_id != run_id:
            return EventStatus.IGNORED  # the job knows its run: a namesake run is someone else's
        if job.run_id is None and run_id:
            Job.update(run_id=run_id, run_url=html_url or None).where(Job.id == job.id).execute()
        if job.status in FINISHED_JOB_STATUSES:
            return EventStatus.IGNORED
        now = utcnow()
        action, conclusion = payload.get('action'), run.get('conclusion')
        if action == 'completed' and conclusion in FAILED_CONCLUSIONS:
            reason = f'The workflow run ended with {conclusion}: {html_url}'
            _finish(job, JobStatus.FAILED, error=reason, run_url=html_url or job.run_url)
        elif action == 'in_progress' and STATUS_RANK[job.status] < STATUS_RANK[JobStatus.IN_PROGRESS]:
            Job.update(status=JobStatus.IN_PROGRESS, last_news_at=now, updated_at=now).where(Job.id == job.id).execute()
            record_event(job.id, JobStatus.IN_PROGRESS, f'The workflow run started on GitHub: {html_url}')
        else:
            return EventStatus.IGNORED
    announce(Agent.get_by_id(job.agent_id), job)
    return EventStatus.PROCESSED
