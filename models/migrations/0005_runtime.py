"""The agent runtime's control plane: where an agent answers, its config revisions, its runtime tokens and API
keys, its heartbeats per boot and its usage per billing period."""
import datetime

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class Agent(Model):
        class Meta:
            database = db
            table_name = 'agent'

    class ProvisioningJob(Model):
        class Meta:
            database = db
            table_name = 'provisioning_job'

    migrator.migrate(
        migrator.add_column('agent', 'endpoint_url', CharField(max_length=255, null=True)),
        migrator.add_column('agent', 'config_revision', IntegerField(default=1)),
        migrator.add_column('agent', 'applied_revision', IntegerField(null=True)),
        migrator.add_column('agent', 'health', CharField(max_length=16, default='unknown')),
        migrator.add_column('agent', 'health_message', TextField(default='')),
        migrator.add_column('agent', 'last_heartbeat_at', DateTimeField(null=True, index=True)),
    )

    class AgentRevision(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        revision = IntegerField()
        name = CharField(max_length=64)
        description = TextField(default='')
        model = CharField(max_length=64)
        system_prompt = TextField(default='')
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'agent_revision'
            indexes = ((('agent', 'revision'), True),)

    class RuntimeToken(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        job = ForeignKeyField(ProvisioningJob, null=True, on_delete='SET NULL')
        sha256 = CharField(max_length=64, unique=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        revoked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'runtime_token'

    class AgentApiKey(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        name = CharField(max_length=64)
        sha256 = CharField(max_length=64, unique=True)
        internal = BooleanField(default=False)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'agent_api_key'

    class RuntimeBoot(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        boot_id = CharField(max_length=64)
        last_seq = IntegerField(default=0)
        requests = BigIntegerField(default=0)
        input_tokens = BigIntegerField(default=0)
        output_tokens = BigIntegerField(default=0)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'runtime_boot'
            indexes = ((('agent', 'boot_id'), True),)

    class AgentUsage(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        period_start = DateTimeField()
        model = CharField(max_length=64)
        requests = BigIntegerField(default=0)
        input_tokens = BigIntegerField(default=0)
        output_tokens = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = 'agent_usage'
            indexes = ((('agent', 'period_start', 'model'), True),)

    db.create_tables([AgentRevision, RuntimeToken, AgentApiKey, RuntimeBoot, AgentUsage])
    db.execute_sql("INSERT INTO agent_revision (agent_id, revision, name, description, model, system_prompt, "
                   "created_at) SELECT id, 1, name, description, model, system_prompt, created_at FROM agent")
