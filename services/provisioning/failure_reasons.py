"""What a customer is told about a job, and what only the operator sees.

A failed job's error names operator internals (which token to fix, the private infrastructure repository's run):
customers get a plain sentence instead, admins the details. A cancellation's reason is written for the customer
(they or billing caused it) and is shown as it is. Run links are offered only as http(s) addresses.
"""
from models import Agent, JobEvent, JobKind, JobStatus, ProvisioningJob

PLAIN_REASONS: dict[str, str] = {
    JobKind.PROVISION: 'Deployment failed because of a problem on our side; the operator has been told. Try again '
                       'later.',
    JobKind.DEPROVISION: 'Removing the server failed because of a problem on our side; the operator has been told.',
}
RETRYING = 'A temporary problem on our side; trying again shortly.'
CUSTOMER_STEP_MESSAGES: dict[str, str] = {
    'reconciling': 'Checking on an interrupted deployment step.',
    JobStatus.DISPATCHING: 'Handing the work to the deployment service.',
    JobStatus.DISPATCHED: 'The deployment service has started the work.',
    JobStatus.IN_PROGRESS: 'The deployment service is working on it.',
    'retry_scheduled': RETRYING,
    'run_cancelled': 'The work in progress was cancelled.',
    JobStatus.FAILED: 'This failed because of a problem on our side; the operator has been told.',
}
"""Timeline steps whose messages AgentHost writes for the operator (tokens, runs, GitHub's answers): customers read
these sentences instead. Steps the workflow reports and steps a person caused keep their own messages."""


def job_error(job: ProvisioningJob, *, details: bool) -> str:
    """The job's error as this viewer may see it ('' when there is none)."""
    if not job.last_error or details or job.status == JobStatus.CANCELLED:
        return job.last_error or ''
    return PLAIN_REASONS.get(job.kind, PLAIN_REASONS[JobKind.PROVISION]) if job.status == JobStatus.FAILED else RETRYING


def agent_reason(agent: Agent, job: ProvisioningJob | None, *, details: bool) -> str:
    """Why the agent is failed, as this viewer may see it."""
    if details or not agent.status_reason or (job is not None and job.status == JobStatus.CANCELLED):
        return agent.status_reason or ''
    return PLAIN_REASONS.get(job.kind if job else JobKind.PROVISION, PLAIN_REASONS[JobKind.PROVISION])


def run_link(job: ProvisioningJob | None, *, details: bool) -> str | None:
    """The run's address for an admin, and only when it is an http(s) URL (a callback could send `javascript:`)."""
    url = job.run_url if job is not None and details else None
    return url if url and url.lower().startswith(('https://', 'http://')) else None


def event_message(event: JobEvent, *, details: bool) -> str:
    """A timeline event's message as this viewer may see it."""
    if details:
        return event.message
    return CUSTOMER_STEP_MESSAGES.get(event.step, event.message)


def failure_mail_reason(job: ProvisioningJob) -> str:
    """What the owner's mail says about a failed job: the mail goes to the customer, never the operator's details."""
    return PLAIN_REASONS.get(job.kind, PLAIN_REASONS[JobKind.PROVISION])
