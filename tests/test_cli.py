import os
import subprocess
import sys
from pathlib import Path

from models import User
from services import accounts

ROOT = Path(__file__).parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST_', 'NICEGUI_'))}
    return subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_users_create_prints_the_new_id_last():
    result = run_cli('users', 'create', '--email', 'Ops@Example.com', '--password', 'long enough')
    assert result.returncode == 0, result.stderr
    user = User.get(User.email == 'ops@example.com')
    assert result.stdout.strip().splitlines()[-1] == str(user.id)


def test_users_create_with_admin_flag_makes_an_admin():
    accounts.create_user(email='first@example.com', password='long enough')
    result = run_cli('users', 'create', '--email', 'boss@example.com', '--password', 'long enough', '--admin')
    assert result.returncode == 0, result.stderr
    assert User.get(User.email == 'boss@example.com').is_admin


def test_users_create_with_a_taken_email_fails_with_a_message():
    accounts.create_user(email='taken@example.com', password='long enough')
    result = run_cli('users', 'create', '--email', 'taken@example.com', '--password', 'long enough')
    assert result.returncode != 0
    assert 'already exists' in result.stderr


def test_tokens_create_prints_a_working_token_last():
    user = accounts.create_user(email='api@example.com', password='long enough')
    result = run_cli('tokens', 'create', '--email', 'api@example.com', '--name', 'ci')
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert accounts.user_for_token(token).id == user.id


def test_tokens_create_for_an_unknown_email_fails_with_a_message():
    result = run_cli('tokens', 'create', '--email', 'ghost@example.com')
    assert result.returncode != 0
    assert 'ghost@example.com' in result.stderr


def test_migrate_reports_nothing_to_do_on_a_current_database():
    result = run_cli('migrate')
    assert result.returncode == 0, result.stderr
    assert 'applied 0 migration(s)' in result.stdout
