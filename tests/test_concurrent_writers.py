"""Writers in several processes on one SQLite file wait their turn instead of failing with `database is locked`.

Always SQLite, whatever DATABASE_URL the suite runs on: the rule is about SQLite's lock upgrade.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import models
from services.accounts import accounts

ROOT = Path(__file__).parent.parent
WRITERS = 3


@pytest.fixture
def sqlite_file(tmp_path, monkeypatch) -> str:
    url = f'sqlite:///{tmp_path}/writers.db'
    models.open_database(url)
    models.migrate()
    for worker in range(WRITERS):
        accounts.create_user(email=f'owner{worker}@example.com', password='correct horse battery')
    monkeypatch.setenv('DATABASE_URL', url)
    return url


def run_together(*commands: list[str]) -> list[subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST_', 'NICEGUI_'))}
    started = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for command in commands]
    results = []
    for process in started:
        stdout, stderr = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def test_three_users_create_commands_at_once_all_succeed(sqlite_file):
    for round_number in range(1):
        results = run_together(*([sys.executable, 'main.py', 'users', 'create', '--email',
                                  f'cli{round_number}-{worker}@example.com', '--password', 'long enough']
                                 for worker in range(WRITERS)))
        assert [result.stderr for result in results if result.returncode] == []


@pytest.mark.parametrize('path', ['accounts', 'agents'])
def test_concurrent_writers_on_one_path_all_succeed(sqlite_file, path):
    results = run_together(*([sys.executable, '-m', 'tests.concurrent_writer', path, str(worker), '200']
                             for worker in range(WRITERS)))
    assert [result.stderr for result in results if result.returncode] == []
