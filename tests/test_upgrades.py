"""Migrations are forward-only: a database of the previous release upgrades in place and keeps its rows."""
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playhouse.db_url import connect
from playhouse.migrations import Runner

import models
from models import Agent, AgentRevision, ApiToken, User, db
from models.database import MIGRATIONS_DIR
from tests.conftest import POSTGRES_URL

FIRST_RELEASE = '0001_initial'
UPGRADE_SCHEMA = 'upgrade_check'
BACKENDS = ['sqlite', 'postgresql'] if POSTGRES_URL else ['sqlite']


@contextmanager
def empty_database(backend: str, tmp_path) -> Iterator[None]:
    """A database with no tables: a SQLite file, or a schema of its own inside the PostgreSQL test database."""
    if backend == 'sqlite':
        models.open_database(f'sqlite:///{tmp_path}/previous-release.db')
        yield
        return
    db.execute_sql(f'DROP SCHEMA IF EXISTS {UPGRADE_SCHEMA} CASCADE')
    db.execute_sql(f'CREATE SCHEMA {UPGRADE_SCHEMA}')
    database = connect(POSTGRES_URL, options=f'-c search_path={UPGRADE_SCHEMA}')
    db.initialize(database)
    try:
        yield
    finally:
        database.close()
        models.open_database(POSTGRES_URL)
        db.execute_sql(f'DROP SCHEMA {UPGRADE_SCHEMA} CASCADE')


def insert(table: str, **values) -> int:
    """A row written the way the first release wrote it: only its columns, no current model involved."""
    columns = ', '.join(f'"{name}"' for name in values)
    placeholders = ', '.join([db.param] * len(values))
    return db.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders}) RETURNING id',
                          list(values.values())).fetchone()[0]


@pytest.mark.parametrize('backend', BACKENDS)
def test_a_first_release_database_upgrades_to_the_latest_schema_and_keeps_its_rows(backend, tmp_path):
    with empty_database(backend, tmp_path):
        assert Runner(db.obj, str(MIGRATIONS_DIR)).up(target=FIRST_RELEASE) == [FIRST_RELEASE]
        user_id = insert('user', email='early@example.com', password_hash='$argon2id$kept', is_admin=True,
                         is_disabled=False, created_at='2026-01-02 03:04:05')
        insert('api_token', user_id=user_id, name='ci', token_hash='f' * 64, prefix='ah_early00',
               created_at='2026-01-02 03:04:05')
        insert('agent', owner_id=user_id, name='Early bot', description='', model='gpt-4.1', system_prompt='hi',
               region='hel1', size='small', status='running', status_reason='', ip_address='203.0.113.7',
               created_at='2026-01-02 03:04:05', updated_at='2026-01-02 03:04:05')

        applied = models.migrate()

        expected = sorted(path.stem for path in MIGRATIONS_DIR.glob('[0-9]*.py'))
        assert applied == [name for name in expected if name != FIRST_RELEASE]
        assert set(db.get_tables()) >= {model._meta.table_name for model in models.ALL_MODELS}
        user = User.get(User.email == 'early@example.com')
        assert user.is_admin and user.password_hash == '$argon2id$kept'
        assert ApiToken.get(ApiToken.user == user).prefix == 'ah_early00'
        agent = Agent.get(Agent.owner == user)
        assert (agent.name, agent.status, agent.ip_address) == ('Early bot', 'running', '203.0.113.7')
        first = AgentRevision.get(AgentRevision.agent == agent)
        assert (first.revision, first.model, first.system_prompt, agent.config_revision) == (1, 'gpt-4.1', 'hi', 1)
        assert models.migrate() == []
