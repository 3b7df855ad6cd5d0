"""What /healthz reports: whether the database answers."""
import peewee

from models import db


def database_problem() -> str | None:
    try:
        db.execute_sql('SELECT 1')
    except peewee.DatabaseError as error:
        return f'database unreachable: {error}'
    return None
