from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .database import BaseModel, utcnow
from .statuses import AgentHealth, AgentStatus
from .user import User


class Agent(BaseModel):
    owner = ForeignKeyField(User, backref='agents', on_delete='CASCADE')
    owner_id: int
    name = CharField(max_length=64)
    description = TextField(default='')
    model = CharField(max_length=64)
    system_prompt = TextField(default='')
    region = CharField(max_length=32)
    size = CharField(max_length=32)
    status = CharField(max_length=16, default=AgentStatus.DRAFT, index=True)
    status_reason = TextField(default='')
    ip_address = CharField(max_length=64, null=True)
    server_id = CharField(max_length=64, null=True)
    endpoint_url = CharField(max_length=255, null=True)
    """Where the agent's runtime answers its API: set while it runs, null otherwise."""
    config_revision = IntegerField(default=1)
    """The newest saved configuration (an `AgentRevision`); `applied_revision` is the one the runtime serves."""
    applied_revision = IntegerField(null=True)
    health = CharField(max_length=16, default=AgentHealth.UNKNOWN)
    health_message = TextField(default='')
    last_heartbeat_at = DateTimeField(null=True, index=True)
    unreachable_since = DateTimeField(null=True, index=True)
    """When the heartbeats stopped being enough (`health` unreachable); healing counts from here."""
    runtime_started_at = DateTimeField(null=True)
    """When the runtime process that heartbeats now started (its first heartbeat): the page shows the uptime."""
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
