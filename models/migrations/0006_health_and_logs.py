"""Health and healing: since when an agent has been unreachable, when its current runtime started, which jobs
AgentHost queued to heal an agent, and the last log lines its runtime shipped."""
import datetime

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    class Meta:
        database = db
        table_name = 'agent'

    agent = type('agent', (Model,), {'Meta': Meta})
    migrator.migrate(
        migrator.add_column('agent', 'unreachable_since', DateTimeField(null=True, index=True)),
        migrator.add_column('agent', 'runtime_started_at', DateTimeField(null=True)),
        migrator.add_column('provisioning_job', 'heal', BooleanField(default=False)),
    )

    class LogMeta:
        database = db
        table_name = 'agent_log_line'
        indexes = ((('agent', 'boot_id', 'seq'), True),)

    log_line = type('agent_log_line', (Model,), {
        'agent': ForeignKeyField(agent, on_delete='CASCADE'), 'boot_id': CharField(max_length=64),
        'seq': IntegerField(), 'at': DateTimeField(), 'level': CharField(max_length=16), 'message': TextField(),
        'received_at': DateTimeField(default=datetime.datetime.utcnow), 'Meta': LogMeta})
    db.create_tables([log_line])
