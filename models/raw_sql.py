"""Statements written out as SQL, for the few paths so hot that building each statement with the ORM costs more CPU
than running it (heartbeats, webhook intake).

Names come from the models' own metadata, so a renamed column cannot go stale here; `?` marks a placeholder and is
turned into the placeholder of the database in use. Every statement runs in the caller's transaction.
"""
from collections.abc import Sequence
from typing import Any

import peewee

from .database import db


def quoted(model_or_field: type[peewee.Model] | peewee.Field) -> str:
    """A table's or a column's name as it appears in SQL."""
    if isinstance(model_or_field, peewee.Field):
        return f'"{model_or_field.column_name}"'
    return f'"{model_or_field._meta.table_name}"'


def placeholders(count: int) -> str:
    return ', '.join([db.obj.param] * count)


def sql(template: str) -> str:
    """`?` marks a placeholder in a template; PostgreSQL's driver wants `%s`."""
    return template.replace('?', db.obj.param)


def fetch(template: str, params: Sequence[Any]) -> list[tuple]:
    return list(db.execute_sql(sql(template), params).fetchall())


def batch(template: str, params: Sequence[Sequence[Any]]) -> None:
    """One statement for each row of `params` (nothing when there are none)."""
    if params:
        db.cursor().executemany(sql(template), params)
