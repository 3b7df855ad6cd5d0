import sqlite3
import threading
from contextlib import closing

import models
from models import Agent, User, db
from tests.factories import make_agent, make_user
from tests.test_cli import run_cli


def open_live_sqlite(tmp_path, monkeypatch) -> str:
    """The app's database as SQLite (also on a PostgreSQL run: backups copy SQLite files)."""
    url = f'sqlite:///{tmp_path}/live.db'
    monkeypatch.setenv('DATABASE_URL', url)
    models.open_database(url)
    models.migrate()
    return url


def test_backup_taken_while_the_database_is_in_use_restores_its_committed_data(tmp_path, monkeypatch):
    open_live_sqlite(tmp_path, monkeypatch)
    owner = make_user('kept@example.com')
    make_agent(owner, name='Kept bot')
    backup_path = tmp_path / 'backups' / 'agenthost.db'
    with db.atomic():  # an open write transaction: its row is not committed while the backup runs
        make_user('uncommitted@example.com')
        result = run_cli('backup', str(backup_path))
    assert result.returncode == 0, result.stderr
    assert f'to {backup_path}' in result.stdout

    monkeypatch.setenv('DATABASE_URL', f'sqlite:///{backup_path}')  # restoring is pointing DATABASE_URL at the copy
    restored = run_cli('tokens', 'create', '--email', 'kept@example.com')
    assert restored.returncode == 0, restored.stderr
    models.open_database(f'sqlite:///{backup_path}')
    assert [user.email for user in User.select()] == ['kept@example.com']
    assert [agent.name for agent in Agent.select()] == ['Kept bot']


def test_a_backup_is_one_self_contained_file(tmp_path, monkeypatch):
    open_live_sqlite(tmp_path, monkeypatch)
    make_user()
    backup_path = tmp_path / 'copy.db'
    assert run_cli('backup', str(backup_path)).returncode == 0
    with closing(sqlite3.connect(backup_path)) as copy:
        assert copy.execute('PRAGMA journal_mode').fetchone()[0] == 'delete'
        assert copy.execute('PRAGMA quick_check').fetchone()[0] == 'ok'
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith('copy')) == ['copy.db']


def test_backup_keeps_up_with_concurrent_writes(tmp_path, monkeypatch):
    open_live_sqlite(tmp_path, monkeypatch)
    owner = make_user()
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            make_agent(owner)
        db.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = run_cli('backup', str(tmp_path / 'busy.db'))
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(tmp_path / 'busy.db')) as copy:
        assert copy.execute('PRAGMA quick_check').fetchone()[0] == 'ok'
        assert copy.execute('SELECT COUNT(*) FROM user').fetchone()[0] == 1


def test_backup_of_postgresql_says_to_use_pg_dump_and_fails(monkeypatch, tmp_path):
    monkeypatch.setenv('DATABASE_URL', 'postgresql://postgres@127.0.0.1:5432/ops')
    result = run_cli('backup', str(tmp_path / 'pg.db'))
    assert result.returncode != 0
    assert 'pg_dump' in result.stderr
    assert not (tmp_path / 'pg.db').exists()


def test_backup_without_a_database_file_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv('DATABASE_URL', f'sqlite:///{tmp_path}/missing.db')
    result = run_cli('backup', str(tmp_path / 'copy.db'))
    assert result.returncode != 0
    assert 'missing.db' in result.stderr
