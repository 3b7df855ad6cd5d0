"""What AgentHost keeps about an agent's runtime: config revisions, runtime tokens, API keys, boots and usage."""
from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .agent import Agent
from .database import BaseModel, utcnow
from .jobs import ProvisioningJob


class AgentRevision(BaseModel):
    """One saved configuration of an agent; the runtime serves the newest, and reports which one it applied."""
    agent = ForeignKeyField(Agent, backref='revisions', on_delete='CASCADE')
    agent_id: int
    revision = IntegerField()
    name = CharField(max_length=64)
    description = TextField(default='')
    model = CharField(max_length=64)
    system_prompt = TextField(default='')
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('agent', 'revision'), True),)


class RuntimeToken(BaseModel):
    """How a runtime proves which agent it is. Only the SHA-256 is kept; a token is minted per provision job, and
    the job's success revokes the tokens of earlier jobs."""
    agent = ForeignKeyField(Agent, backref='runtime_tokens', on_delete='CASCADE')
    agent_id: int
    job = ForeignKeyField(ProvisioningJob, null=True, on_delete='SET NULL')
    job_id: int | None
    sha256 = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)


class AgentApiKey(BaseModel):
    """A key a customer's client sends to the agent's endpoint. `internal` marks AgentHost's own chat key, which is
    never listed and never leaves the server."""
    agent = ForeignKeyField(Agent, backref='api_keys', on_delete='CASCADE')
    agent_id: int
    name = CharField(max_length=64)
    sha256 = CharField(max_length=64, unique=True)
    internal = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


class UsageTotals(BaseModel):
    """The counters a runtime reports and AgentHost sums; a base of the two tables below, never a table itself."""
    requests = BigIntegerField(default=0)
    input_tokens = BigIntegerField(default=0)
    output_tokens = BigIntegerField(default=0)


class RuntimeBoot(UsageTotals):
    """The usage one runtime process reported so far: heartbeats carry totals since boot, so only the increase over
    these is counted, and a repeated or lost heartbeat never miscounts."""
    agent = ForeignKeyField(Agent, backref='boots', on_delete='CASCADE')
    agent_id: int
    boot_id = CharField(max_length=64)
    last_seq = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('agent', 'boot_id'), True),)


class AgentUsage(UsageTotals):
    """An agent's usage in one billing period, per model."""
    agent = ForeignKeyField(Agent, backref='usage', on_delete='CASCADE')
    agent_id: int
    period_start = DateTimeField()
    model = CharField(max_length=64)

    class Meta:
        indexes = ((('agent', 'period_start', 'model'), True),)


class AgentLogLine(BaseModel):
    """One line a runtime logged, shipped to AgentHost so its owner reads it without the server. Each boot numbers
    its lines, so a batch sent twice is kept once; only the newest lines per agent are kept."""
    agent = ForeignKeyField(Agent, backref='log_lines', on_delete='CASCADE')
    agent_id: int
    boot_id = CharField(max_length=64)
    seq = IntegerField()
    at = DateTimeField()
    level = CharField(max_length=16)
    message = TextField()
    received_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('agent', 'boot_id', 'seq'), True),)
