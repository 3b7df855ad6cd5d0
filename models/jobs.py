from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .agent import Agent
from .database import BaseModel, utcnow
from .statuses import OPEN_JOB_STATUSES, AgentStatus, JobStatus


class ProvisioningJob(BaseModel):
    """One provisioning or deprovisioning of an agent: the only truth about where that work stands.

    `open_agent` holds the agent's id while the job is open and NULL once it is finished; its unique index makes
    "one open job per agent" a database rule, not a hope. Workers claim a job by compare-and-set on `status` and
    `claim_token`, so two threads or processes never take the same job.
    """
    agent = ForeignKeyField(Agent, backref='jobs', on_delete='CASCADE')
    agent_id: int
    kind = CharField(max_length=16)
    status = CharField(max_length=16, default=JobStatus.QUEUED, index=True)
    goal = CharField(max_length=16, default=AgentStatus.RUNNING)
    """The agent status this job leads to on success: running (provision), stopped or deleted (deprovision)."""
    previous_status = CharField(max_length=16, default=AgentStatus.DRAFT)
    """The agent's status before the job, restored when a job is cancelled before anything was dispatched."""
    open_agent = IntegerField(null=True, unique=True)
    idempotency_key = CharField(max_length=255, unique=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True, index=True)
    last_error = TextField(default='')
    maybe_dispatched = BooleanField(default=False)
    """An earlier attempt may have reached GitHub (timeout, reset, 5xx, crash): look for its run before sending."""
    cancel_run = BooleanField(default=False, index=True)
    """The job is finished but its run on GitHub still has to be cancelled (the dispatcher does it)."""
    claim_token = CharField(max_length=64, null=True)
    claimed_at = DateTimeField(null=True)
    run_id = CharField(max_length=32, null=True, index=True)
    run_url = CharField(max_length=512, null=True)
    step = CharField(max_length=64, default=JobStatus.QUEUED)
    heal = BooleanField(default=False)
    """Queued by AgentHost itself for an agent that stopped answering (healing), not by its owner."""
    last_news_at = DateTimeField(default=utcnow, index=True)
    """When this job last heard anything (dispatch, callback, webhook): the reaper checks jobs silent too long."""
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_JOB_STATUSES


class JobEvent(BaseModel):
    """The timeline of a job: what happened, when, as a named step and a sentence."""
    job = ForeignKeyField(ProvisioningJob, backref='events', on_delete='CASCADE')
    job_id: int
    time = DateTimeField(default=utcnow, index=True)
    step = CharField(max_length=64)
    message = TextField(default='')
