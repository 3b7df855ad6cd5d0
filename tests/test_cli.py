import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from models import User
from services.accounts import accounts
from tests.stripe_double import stripe_double  # noqa: F401

ROOT = Path(__file__).parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST_', 'NICEGUI_'))}
    return subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def assert_fails_naming(result: subprocess.CompletedProcess, text: str) -> None:
    """A refused command exits non-zero and says on stderr what was wrong."""
    assert result.returncode != 0
    assert text in result.stderr, result.stderr


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
    assert_fails_naming(result, 'already exists')


def test_tokens_create_prints_a_working_token_last():
    user = accounts.create_user(email='api@example.com', password='long enough')
    result = run_cli('tokens', 'create', '--email', 'api@example.com', '--name', 'ci')
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert accounts.user_for_token(token).id == user.id


def test_tokens_create_for_an_unknown_email_fails_with_a_message():
    result = run_cli('tokens', 'create', '--email', 'ghost@example.com')
    assert_fails_naming(result, 'ghost@example.com')


def test_migrate_reports_nothing_to_do_on_a_current_database():
    result = run_cli('migrate')
    assert result.returncode == 0, result.stderr
    assert 'applied 0 migration(s)' in result.stdout


def test_billing_grant_records_a_complimentary_entitlement_with_who_and_until():
    from models import CompGrant
    accounts.create_user(email='vip@example.com', password='long enough')
    result = run_cli('billing', 'grant', '--email', 'vip@example.com', '--plan', 'pro', '--until', '2030-01-31')
    assert result.returncode == 0, result.stderr
    grant = CompGrant.get()
    assert grant.plan == 'pro' and grant.granted_by.startswith('cli:')
    assert str(grant.until).startswith('2030-02-01')


def test_billing_grant_of_an_unknown_plan_fails_naming_the_plans():
    accounts.create_user(email='vip@example.com', password='long enough')
    result = run_cli('billing', 'grant', '--email', 'vip@example.com', '--plan', 'gold')
    assert_fails_naming(result, 'starter')


def test_stripe_reprocess_of_an_unknown_event_fails_with_a_message():
    result = run_cli('stripe', 'reprocess', '--id', 'evt_missing')
    assert_fails_naming(result, 'evt_missing')


def test_stripe_sync_without_a_key_says_billing_is_not_set_up():
    accounts.create_user(email='payer@example.com', password='long enough')
    from models import StripeCustomer, User
    StripeCustomer.create(user=User.get(), customer_id='cus_1')
    result = run_cli('stripe', 'sync')
    assert_fails_naming(result, 'STRIPE_SECRET_KEY')


def test_stripe_sync_rereads_every_customers_subscriptions(stripe_double):
    from models import Subscription
    from services.billing import billing
    user = accounts.create_user(email='payer@example.com', password='long enough')
    billing.start_checkout(user=user, plan='pro')
    session_id = list(stripe_double.sessions)[-1]
    created, _, _ = stripe_double.complete_checkout(session_id)
    billing.fulfil_checkout(session_id)
    stripe_double.set_subscription_status(created['data']['object']['id'], 'unpaid')
    result = run_cli('stripe', 'sync')
    assert result.returncode == 0, result.stderr
    assert 'synced 1 subscription(s)' in result.stdout
    assert Subscription.get().status == 'unpaid'


def test_stripe_reprocess_failed_processes_failed_events_again(stripe_double):
    from models import WebhookEvent
    from services.billing import billing, stripe_webhooks
    user = accounts.create_user(email='payer@example.com', password='long enough')
    billing.start_checkout(user=user, plan='pro')
    _, completed, _ = stripe_double.complete_checkout(list(stripe_double.sessions)[-1])
    payload, headers = stripe_double.signed(completed)
    stripe_webhooks.receive(payload=payload, signature=headers['Stripe-Signature'], headers=headers)
    WebhookEvent.update(status='failed', last_error='earlier outage').execute()
    result = run_cli('stripe', 'reprocess', '--failed')
    assert result.returncode == 0, result.stderr
    assert f'{completed["id"]}: processed' in result.stdout
    assert WebhookEvent.get().status == 'processed'


def test_data_dir_option_puts_the_database_there_before_or_after_the_command(tmp_path, monkeypatch):
    monkeypatch.delenv('DATABASE_URL')
    monkeypatch.delenv('DATA_DIR')
    after = run_cli('users', 'create', '--data-dir', str(tmp_path / 'one'), '--email', 'a@example.com',
                    '--password', 'long enough')
    before = run_cli('--data-dir', str(tmp_path / 'two'), 'migrate')
    assert after.returncode == 0, after.stderr
    assert before.returncode == 0, before.stderr
    with closing(sqlite3.connect(tmp_path / 'one' / 'agenthost.db')) as database:
        assert database.execute('SELECT email FROM user').fetchall() == [('a@example.com',)]
    assert (tmp_path / 'two' / 'agenthost.db').is_file()


def test_backup_is_listed_in_the_help_with_the_data_dir_option():
    result = run_cli('--help')
    assert 'backup' in result.stdout and '--data-dir' in result.stdout


def test_users_enable_lets_a_disabled_account_log_in_again():
    user = accounts.create_user(email='locked@example.com', password='long enough')
    User.update(is_disabled=True).where(User.id == user.id).execute()
    result = run_cli('users', 'enable', '--email', 'Locked@Example.com')
    assert result.returncode == 0, result.stderr
    assert accounts.authenticate(email='locked@example.com', password='long enough', address='1.2.3.4').id == user.id


def test_users_set_admin_makes_an_account_an_admin():
    accounts.create_user(email='first@example.com', password='long enough')
    accounts.create_user(email='ops@example.com', password='long enough')
    result = run_cli('users', 'set-admin', '--email', 'ops@example.com')
    assert result.returncode == 0, result.stderr
    assert User.get(User.email == 'ops@example.com').is_admin


def test_users_set_admin_with_revoke_removes_admin_rights():
    accounts.create_user(email='first@example.com', password='long enough')
    result = run_cli('users', 'set-admin', '--email', 'first@example.com', '--revoke')
    assert result.returncode == 0, result.stderr
    assert not User.get(User.email == 'first@example.com').is_admin


def test_users_enable_of_an_unknown_email_fails_with_a_message():
    result = run_cli('users', 'enable', '--email', 'ghost@example.com')
    assert_fails_naming(result, 'ghost@example.com')
