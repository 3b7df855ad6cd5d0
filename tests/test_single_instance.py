"""SQLite serves one AgentHost at a time: a second `serve` on the same file refuses and says what to do instead.

These tests use a SQLite file of their own on either suite: the guard is SQLite's, and PostgreSQL is the way to run
several instances."""
import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

from services.platform import single_instance
from services.platform.errors import DomainError
from tests.live_server import REPO_ROOT, app_process, free_port, server_environment


@pytest.fixture(autouse=True)
def on_sqlite(isolated_environment, monkeypatch, tmp_path: Path) -> None:  # noqa: ARG001  (orders the env first)
    monkeypatch.setenv('DATABASE_URL', f'sqlite:///{tmp_path}/serving.db')


def second_process(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'main.py', *args], cwd=REPO_ROOT, env=server_environment(free_port()),
                          capture_output=True, text=True, timeout=60)


def can_lock(path: Path) -> bool:
    """Whether another process could take the lock on `path` now."""
    with path.open('a+') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_a_second_serve_on_the_same_sqlite_file_refuses_and_names_postgresql(tmp_path: Path):
    with app_process(tmp_path / 'first.log') as (_, first):
        second = second_process()
    assert second.returncode != 0
    assert f'process {first.pid}' in second.stderr and 'already serves the SQLite database' in second.stderr
    assert 'DATABASE_URL=postgresql://' in second.stderr


def test_the_command_line_works_while_the_app_serves(tmp_path: Path):
    with app_process(tmp_path / 'server.log'):
        created = second_process('users', 'create', '--email', 'cli@example.com', '--password', 'a long password')
    assert created.returncode == 0, created.stderr


def test_a_stopped_instance_leaves_no_lock_behind(tmp_path: Path):
    with app_process(tmp_path / 'first.log') as (_, first):
        first.kill()  # SIGKILL: no chance to clean up
        first.wait(timeout=30)
    with app_process(tmp_path / 'second.log') as (base_url, _):
        assert base_url


def test_serving_another_database_lets_go_of_the_first(tmp_path: Path):
    single_instance.hold_the_database(str(tmp_path / 'one.db'))
    single_instance.hold_the_database(str(tmp_path / 'two.db'))
    assert can_lock(tmp_path / 'one.db.serving') and not can_lock(tmp_path / 'two.db.serving')


def test_the_refusal_is_a_domain_error_naming_the_holder(tmp_path: Path):
    with (tmp_path / 'held.db.serving').open('a+') as other:
        other.write('4242\n')
        other.flush()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DomainError, match='process 4242'):
            single_instance.hold_the_database(str(tmp_path / 'held.db'))
