"""What /healthz reports: whether the database answers, and for admins what the app runs on.

Kept cheap because load balancers poll it: anonymous callers cost one `SELECT 1`; the details (a few more small
queries) are computed only for a signed-in admin.
"""
import importlib.util

import peewee

from models import db, is_sqlite
from models.database import MIGRATIONS_DIR

from ..accounts import accounts


def database_problem() -> str | None:
    try:
        db.execute_sql('SELECT 1')
    except peewee.DatabaseError as error:
        return f'database unreachable: {error}'
    return None


def report(*, user_id: int | None) -> dict:
    """`{"status": "ok"}` or `{"status": "error", "database": why}`; an admin also gets `details()`."""
    problem = database_problem()
    if problem:
        return {'status': 'error', 'database': problem}
    viewer = accounts.active_user(user_id)
    return {'status': 'ok', **(details() if viewer is not None and viewer.is_admin else {})}


def details() -> dict:
    applied = [name for (name,) in db.execute_sql('SELECT name FROM schema_migration ORDER BY name').fetchall()]
    pending = sorted({path.stem for path in MIGRATIONS_DIR.glob('[0-9]*.py')} - set(applied))
    found: dict[str, object] = {'database': {'backend': 'sqlite' if is_sqlite() else 'postgresql',
                          'migrations_applied': applied, 'migrations_pending': pending}}
    if (running := scheduler_running()) is not None:
        found['scheduler'] = {'running': running}
    return found


def scheduler_running() -> bool | None:
    """Asks the dispatcher (`services.provisioning.scheduler`) whether it runs; None (key left out) without one."""
    if importlib.util.find_spec('services.provisioning.scheduler') is None:
        return None
    is_running = getattr(importlib.import_module('services.provisioning.scheduler'), 'is_running', None)
    return bool(is_running()) if callable(is_running) else None
