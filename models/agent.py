from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from .database import BaseModel, utcnow
from .statuses import AgentStatus
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
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
