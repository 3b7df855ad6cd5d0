"""Provisioning jobs and their timelines."""
import datetime

from peewee import SQL, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    class Agent(Model):
        class Meta:
            database = db
            table_name = 'agent'

    class ProvisioningJob(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        kind = CharField(max_length=16)
        status = CharField(max_length=16, default='queued', index=True)
        goal = CharField(max_length=16, default='running')
        previous_status = CharField(max_length=16, default='draft')
        open_agent = IntegerField(null=True, unique=True)
        idempotency_key = CharField(max_length=255, unique=True)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(null=True, index=True)
        last_error = TextField(default='')
        maybe_dispatched = BooleanField(default=False)
        cancel_run = BooleanField(default=False, index=True)
        claim_token = CharField(max_length=64, null=True)
        claimed_at = DateTimeField(null=True)
        run_id = CharField(max_length=32, null=True, index=True)
        run_url = CharField(max_length=512, null=True)
        step = CharField(max_length=64, default='queued')
        last_news_at = DateTimeField(default=datetime.datetime.utcnow, index=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = 'provisioning_job'
            constraints = [SQL("CHECK (status IN ('queued', 'dispatching', 'dispatched', 'in_progress', "
                               "'succeeded', 'failed', 'cancelled'))"),
                           SQL("CHECK (kind IN ('provision', 'deprovision'))")]

    class JobEvent(Model):
        job = ForeignKeyField(ProvisioningJob, on_delete='CASCADE')
        time = DateTimeField(default=datetime.datetime.utcnow, index=True)
        step = CharField(max_length=64)
        message = TextField(default='')

        class Meta:
            database = db
            table_name = 'job_event'

    db.create_tables([ProvisioningJob, JobEvent])
