"""Every test runs against its own empty database (SQLite file, or the PostgreSQL in DATABASE_URL, truncated)
and a clean environment, so no setting or row leaks from one test into the next."""
import os

os.environ['AGENTHOST_ENV_FILE'] = ''  # a developer's .env must not change what the tests see

import peewee
import pytest
from nicegui import app as nicegui_app

import models
from services.accounts import login_limits
from services.platform import events
from services.platform.settings import Settings, configure

NICEGUI_LIFESPAN = nicegui_app.router.lifespan_context
POSTGRES_URL = os.environ.get('DATABASE_URL', '') if os.environ.get('DATABASE_URL', '').startswith('postgres') else ''


MODEL_PROVIDERS = {'ANTHROPIC_API_KEY': 'sk-ant-tests', 'ANTHROPIC_BASE_URL': 'http://127.0.0.1:9',
                   'OPENAI_BASE_URL': 'http://127.0.0.1:9/v1'}
"""Both providers set up, so every model of AGENT_MODELS is offered, at a closed port (nothing calls out); tests of
the providers themselves set their own."""


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch) -> Settings:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv('DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setenv('DATABASE_URL', POSTGRES_URL or f'sqlite:///{tmp_path}/agenthost.db')
    for name, value in MODEL_PROVIDERS.items():
        monkeypatch.setenv(name, value)
    settings = configure(Settings())
    if models.db.obj is not None and not models.db.is_closed():
        models.db.close()  # the previous test's connection: each test opens its own database handle
    models.open_database(settings.resolved_database_url)
    models.migrate()
    if POSTGRES_URL:
        empty_every_table()
    login_limits.reset()
    return settings


def empty_every_table() -> None:
    """TRUNCATE waits for every transaction on the tables. A page of the previous test may still be re-reading on a
    worker thread, its transaction begun on the database handle this fixture just replaced and its next statement
    waiting behind the TRUNCATE on a new one: nothing would ever move. So the TRUNCATE waits a few seconds at most,
    then ends such leftovers (idle inside a transaction of this database) and tries again."""
    tables = ', '.join(f'"{model._meta.table_name}"' for model in models.ALL_MODELS)
    for _ in range(3):
        try:
            with models.db.atomic():
                models.db.execute_sql("SET LOCAL lock_timeout = '3s'")
                models.db.execute_sql(f'TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE')
            return
        except peewee.OperationalError:
            models.db.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()")
    raise RuntimeError('a connection of an earlier test keeps the tables locked')


@pytest.fixture(autouse=True)
def unnested_lifespan() -> None:
    """FastAPI wraps the app's lifespan once per `include_router`; NiceGUI's fixtures run main.py for every test,
    so without this reset the wrappers nest until Python's recursion limit (seen after about 60 page tests)."""
    nicegui_app.router.lifespan_context = NICEGUI_LIFESPAN


@pytest.fixture(autouse=True)
def no_pages_of_earlier_tests() -> None:
    """NiceGUI's fixtures forget the clients of a test, but not what their pages subscribed to on our module-level
    events; a page of an earlier test would otherwise react to an account of this one (ids start again at 1)."""
    events.account_changed.callbacks.clear()
