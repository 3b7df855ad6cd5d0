"""News from the workflow: a verified callback moves its job forward, never back; late ones change nothing."""
from dataclasses import dataclass

from models import FINISHED_JOB_STATUSES, Agent, JobEvent, JobStatus, ProvisioningJob, utcnow, write_transaction

from .jobs import (
    STATUS_RANK,
    ProvisioningError,
    _default_message,
    _finish,
    _locked_job,
    _set_agent,
    _step_index,
    announce,
    record_event,
    steps_of,
)

PROGRESS_STATUSES = (JobStatus.IN_PROGRESS, 'progress')
"""Callback statuses that report a step on the way; the others end the job."""
CALLBACK_STATUSES = (*PROGRESS_STATUSES, JobStatus.SUCCEEDED, JobStatus.FAILED)


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
    endpoint_url: str = ''


def apply_report(report: Report) -> tuple[ProvisioningJob, bool]:
    """Move the job forward by a callback; returns the job and whether anything changed (late ones change nothing)."""
    Job = ProvisioningJob
    with write_transaction():
        job = _locked_job(report.job_id)
        if job is None:
            raise ProvisioningError('NOT_FOUND', f'There is no provisioning job {report.job_id}.')
        if job.status in FINISHED_JOB_STATUSES:
            return job, False
        step = report.step or report.status
        message = report.message or _default_message(report.status, step)
        if report.status in PROGRESS_STATUSES and \
                JobEvent.select().where((JobEvent.job == job.id) & (JobEvent.step == step)
                                        & (JobEvent.message == message)).exists():
            return job, False  # the same report again (report.py retried after a lost answer)
        now = utcnow()
        fields: dict = {'last_news_at': now, 'updated_at': now}
        if report.run_id and not job.run_id:
            fields.update(run_id=report.run_id, run_url=report.run_url or None)
        server = {name: value for name in ('ip_address', 'server_id', 'endpoint_url')
                  if (value := getattr(report, name))}
        if server:
            _set_agent(job.agent_id, **server)
        if report.status in PROGRESS_STATUSES:
            if STATUS_RANK[job.status] < STATUS_RANK[JobStatus.IN_PROGRESS]:
                fields['status'] = JobStatus.IN_PROGRESS
            if step in steps_of(job) and steps_of(job).index(step) > _step_index(job):
                fields['step'] = step
            Job.update(**fields).where(Job.id == job.id).execute()
            record_event(job.id, step, message)
        else:
            final = steps_of(job)[-1] if report.status == JobStatus.SUCCEEDED else JobStatus.FAILED
            own_step = bool(report.step) and report.step != final
            Job.update(**fields).where(Job.id == job.id).execute()
            job = Job.get_by_id(job.id)
            if own_step and not JobEvent.select().where((JobEvent.job == job.id)
                                                        & (JobEvent.step == report.step)).exists():
                record_event(job.id, report.step, message)  # the callback's own step first, then the final one
            if report.status == JobStatus.SUCCEEDED:
                _finish(job, JobStatus.SUCCEEDED,
                        message=_default_message(JobStatus.SUCCEEDED, final) if own_step else message)
            else:
                _finish(job, JobStatus.FAILED, error=message + (f' ({job.run_url})' if job.run_url else ''))
    job = Job.get_by_id(job.id)
    announce(Agent.get_by_id(job.agent_id), job)
    return job, True
