"""Users, their API tokens, and agents."""
import datetime

from peewee import SQL, BooleanField, CharField, DateTimeField, ForeignKeyField, Model, TextField


def up(migrator, db):
    class User(Model):
        email = CharField(max_length=254, unique=True)
        password_hash = CharField(max_length=255)
        is_admin = BooleanField(default=False)
        is_disabled = BooleanField(default=False)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'user'

    class ApiToken(Model):
        user = ForeignKeyField(User, backref='tokens', on_delete='CASCADE')
        name = CharField(max_length=64)
        token_hash = CharField(max_length=64, unique=True)
        prefix = CharField(max_length=16)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'api_token'

    class Agent(Model):
        owner = ForeignKeyField(User, backref='agents', on_delete='CASCADE')
        name = CharField(max_length=64)
        description = TextField(default='')
        model = CharField(max_length=64)
        system_prompt = TextField(default='')
        region = CharField(max_length=32)
        size = CharField(max_length=32)
        status = CharField(max_length=16, default='draft', index=True)
        status_reason = TextField(default='')
        ip_address = CharField(max_length=64, null=True)
        server_id = CharField(max_length=64, null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'agent'
            constraints = [SQL("CHECK (status IN ('draft', 'provisioning', 'running', 'failed', "
                               "'stopping', 'stopped', 'deleting', 'deleted'))")]

    db.create_tables([User, ApiToken, Agent])
