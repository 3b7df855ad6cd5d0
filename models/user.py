from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField

from .database import BaseModel, utcnow


class User(BaseModel):
    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    is_admin = BooleanField(default=False)
    is_disabled = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)


class ApiToken(BaseModel):
    """Only the SHA-256 of a token is kept; the token itself is shown once, when it is created."""
    user = ForeignKeyField(User, backref='tokens', on_delete='CASCADE')
    user_id: int
    name = CharField(max_length=64)
    token_hash = CharField(max_length=64, unique=True)
    prefix = CharField(max_length=16)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
