"""Webhook events remember which object they are about, so one re-read from Stripe can settle several events."""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('webhook_event', 'object_key', CharField(max_length=255, null=True, index=True)))
