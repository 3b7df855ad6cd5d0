"""peewee models on one base and one `DatabaseProxy`; the schema itself is built by `models/migrations/`."""
from .agent import AGENT_STATUSES, COUNTED_STATUSES, EDITABLE_STATUSES, Agent
from .database import BaseModel, db, is_sqlite, migrate, open_database, utcnow
from .user import ApiToken, User

ALL_MODELS = [User, ApiToken, Agent]

__all__ = ['AGENT_STATUSES', 'ALL_MODELS', 'COUNTED_STATUSES', 'EDITABLE_STATUSES', 'Agent', 'ApiToken',
           'BaseModel', 'User', 'db', 'is_sqlite', 'migrate', 'open_database', 'utcnow']
