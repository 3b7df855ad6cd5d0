"""The agent runtime's control plane: where an agent answers, its config revisions, its runtime tokens and API
keys, its heartbeats per boot and its usage per billing period.

The new tables are declared as data through `table()`: a migration is a frozen snapshot, and one line per concern
keeps it readable without repeating each model's `Meta`.
"""
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
    def table(table_name: str, /, unique: tuple = (), **fields) -> type[Model]:
        meta = type('Meta', (), {'database': db, 'table_name': table_name, 'indexes': tuple((c, True) for c in unique)})
        return type(table_name, (Model,), {**fields, 'Meta': meta})

    def now() -> DateTimeField:
        return DateTimeField(default=datetime.datetime.utcnow)

    def usage_counters() -> dict:
        return {name: BigIntegerField(default=0) for name in ('requests', 'input_tokens', 'output_tokens')}

    agent, job = table('agent'), table('provisioning_job')
    migrator.migrate(
        migrator.add_column('agent', 'endpoint_url', CharField(max_length=255, null=True)),
        migrator.add_column('agent', 'config_revision', IntegerField(default=1)),
        migrator.add_column('agent', 'applied_revision', IntegerField(null=True)),
        migrator.add_column('agent', 'health', CharField(max_length=16, default='unknown')),
        migrator.add_column('agent', 'health_message', TextField(default='')),
        migrator.add_column('agent', 'last_heartbeat_at', DateTimeField(null=True, index=True)),
    )
    db.create_tables([
        table('agent_revision', unique=(('agent', 'revision'),), agent=ForeignKeyField(agent, on_delete='CASCADE'),
              revision=IntegerField(), name=CharField(max_length=64), model=CharField(max_length=64),
              description=TextField(default=''), system_prompt=TextField(default=''), created_at=now()),
        table('runtime_token', agent=ForeignKeyField(agent, on_delete='CASCADE'), sha256=CharField(64, unique=True),
              job=ForeignKeyField(job, null=True, on_delete='SET NULL'),
              created_at=now(), revoked_at=DateTimeField(null=True)),
        table('agent_api_key', agent=ForeignKeyField(agent, on_delete='CASCADE'), sha256=CharField(64, unique=True),
              name=CharField(max_length=64), internal=BooleanField(default=False),
              created_at=now(), last_used_at=DateTimeField(null=True), revoked_at=DateTimeField(null=True)),
        table('runtime_boot', unique=(('agent', 'boot_id'),), agent=ForeignKeyField(agent, on_delete='CASCADE'),
              boot_id=CharField(max_length=64), last_seq=IntegerField(default=0), created_at=now(),
              **usage_counters()),
        table('agent_usage', unique=(('agent', 'period_start', 'model'),),
              agent=ForeignKeyField(agent, on_delete='CASCADE'), period_start=DateTimeField(),
              model=CharField(max_length=64), **usage_counters()),
    ])
    db.execute_sql('INSERT INTO agent_revision (agent_id, revision, name, description, model, system_prompt, '
                   'created_at) SELECT id, 1, name, description, model, system_prompt, created_at FROM agent')
