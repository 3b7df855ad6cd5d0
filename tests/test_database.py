import os
import threading
from pathlib import Path

import peewee
import pytest

import models
from models import Agent, User, db, is_sqlite
from models.database import MIGRATIONS_DIR
from tests.factories import make_agent, make_user


def test_migrations_build_the_schema_from_an_empty_database(tmp_path):
    models.open_database(f'sqlite:///{tmp_path}/empty.db')
    applied = models.migrate()
    assert applied == sorted(path.stem for path in MIGRATIONS_DIR.glob('[0-9]*.py'))
    assert set(db.get_tables()) >= {'user', 'api_token', 'agent', 'schema_migration'}
    assert models.migrate() == []


def test_migrated_schema_matches_the_models():
    for model in models.ALL_MODELS:
        columns = {column.name for column in db.get_columns(model._meta.table_name)}
        assert columns == {field.column_name for field in model._meta.sorted_fields}, model.__name__


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    models.open_database(f'sqlite:///{tmp_path}/pragmas.db')
    assert is_sqlite()
    assert db.execute_sql('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert db.execute_sql('PRAGMA busy_timeout').fetchone()[0] >= 1000


def test_unknown_agent_status_is_refused_by_the_database():
    agent = make_agent(make_user())
    with pytest.raises(peewee.IntegrityError), db.atomic():
        Agent.update(status='exploded').where(Agent.id == agent.id).execute()


def test_each_thread_has_its_own_connection_to_the_same_data():
    make_user('shared@example.com')
    seen = []
    thread = threading.Thread(target=lambda: seen.append(User.select().where(User.email == 'shared@example.com')
                                                         .exists()))
    thread.start()
    thread.join()
    assert seen == [True]


def test_transactions_are_opened_only_through_the_models_helpers():
    """Writers open `write_transaction()` (BEGIN IMMEDIATE on SQLite), readers `read_transaction()`; a bare
    `db.atomic()` elsewhere would bring back SQLite's `database is locked` on a lock upgrade."""
    root = Path(__file__).resolve().parent.parent
    sources = [path for folder in ('api', 'pages', 'services', 'models') for path in (root / folder).rglob('*.py')]
    offenders = [str(path.relative_to(root)) for path in [*sources, root / 'main.py']
                 if '.atomic(' in path.read_text() and path != root / 'models' / 'database.py']
    assert offenders == []


@pytest.mark.parametrize(('operator_set', 'expected'), [(None, 'disable'), ('prefer', 'prefer')])
def test_postgresql_connects_without_gssapi_encryption_unless_the_operator_asks(monkeypatch, isolated_environment,
                                                                                 operator_set, expected):
    if operator_set is None:
        monkeypatch.delenv('PGGSSENCMODE', raising=False)
    else:
        monkeypatch.setenv('PGGSSENCMODE', operator_set)
    try:
        models.open_database('postgresql://postgres@127.0.0.1:5432/never-connected')  # peewee connects lazily
        assert os.environ["PGGSSENCMODE"] == expected
    finally:
        models.open_database(isolated_environment.resolved_database_url)
