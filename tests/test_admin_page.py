import pytest
from nicegui.testing import User

from models import CompGrant, WebhookEvent, write_transaction
from services import provisioning
from services.accounts import accounts
from services.billing import billing, stripe_webhooks
from services.runtime import usage
from tests.factories import PASSWORD, make_agent, make_entitled_user, make_user
from tests.github_double import Answer
from tests.pages_support import log_in, log_in_as_admin
from tests.provisioning_support import eventually, github, job_of, reload, signed_callback  # noqa: F401
from tests.stripe_double import StripeDouble, stripe_double  # noqa: F401

TEST_ORIGIN = 'http://test'
"""Where NiceGUI's User fixture reaches the app."""


async def admin_page_shows(user: User, text: str) -> None:
    """Sign in as an admin, open /admin, and wait for `text` (the checklist calls Stripe and GitHub first)."""
    await log_in_as_admin(user)
    await user.open('/admin')
    await user.should_see(text, retries=50)


def reconfigure(monkeypatch, **variables: str | None) -> None:
    """Change settings after main.py read them (None removes a variable)."""
    from services.platform.settings import Settings, configure
    for name, value in variables.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    configure(Settings())

async def test_admin_page_answers_404_to_non_admins(user: User):
    make_user('first@example.com')
    await log_in(user, 'plain@example.com')
    response = await user.http_client.get('/admin')
    assert response.status_code == 404


async def test_checklist_says_what_to_do_when_stripe_is_not_configured(user: User):
    await admin_page_shows(user, 'STRIPE_SECRET_KEY is unset')


async def test_checklist_says_that_agents_run_on_this_machine_without_github(user: User):
    await admin_page_shows(user, 'Agents run on this machine')
    await user.should_not_see('CALLBACK_SECRET is unset')


async def test_checklist_confirms_a_good_stripe_configuration(stripe_double, user: User):
    await admin_page_shows(user, 'valid (test mode)')
    await user.should_see('price_pro, recurring every month')


async def test_checklist_names_a_missing_price(stripe_double, monkeypatch, user: User):
    reconfigure(monkeypatch, STRIPE_PRICE_PRO='price_typo')
    await admin_page_shows(user, 'STRIPE_PRICE_PRO=price_typo')


async def test_checklist_names_a_one_time_price(stripe_double, user: User):
    stripe_double.prices['price_business'] = StripeDouble._price('price_business', recurring=False)
    await admin_page_shows(user, 'is a one-time price')


async def test_admin_grants_a_complimentary_plan_recorded_with_who(user: User):
    admin_account = await log_in_as_admin(user)
    customer = make_user('customer@example.com')
    await user.open('/admin')
    user.find(marker=f'grant-{customer.id}').click()
    await user.should_see('Granted starter to customer@example.com', retries=50)
    grant = CompGrant.get(CompGrant.user == customer)
    assert (grant.plan, grant.granted_by) == ('starter', admin_account.email)


async def test_admin_reprocesses_a_failed_stripe_event(stripe_double, user: User):
    await log_in_as_admin(user)
    customer = make_user('customer@example.com')
    billing.start_checkout(user=customer, plan='pro')
    _, completed, _ = stripe_double.complete_checkout(list(stripe_double.sessions)[-1])
    payload, headers = stripe_double.signed(completed)
    stripe_webhooks.receive(payload=payload, signature=headers['Stripe-Signature'], headers=headers)
    WebhookEvent.update(status='failed', last_error='Stripe was down').execute()
    await user.open('/admin')
    await user.should_see('Stripe was down')
    user.find(marker=f'reprocess-{completed["id"]}').click()
    await user.should_see(f'{completed["id"]}: processed', retries=50)
    assert WebhookEvent.get().status == 'processed'


async def test_admin_sees_jobs_across_users_with_their_timeline(github, user: User):
    await log_in_as_admin(user)
    customer = make_entitled_user('customer@example.com')
    agent = make_agent(customer, name='Customer bot')
    provisioning.request_deploy(owner=customer, agent_id=agent.id)
    job = job_of(agent)
    await user.open('/admin')
    await user.should_see('Customer bot (customer@example.com)')
    await user.should_see(marker=f'job-{job.id}')
    await user.should_see(marker=f'cancel-{job.id}')


async def test_admin_cancels_an_open_job(github, user: User):
    await log_in_as_admin(user)
    customer = make_entitled_user('customer@example.com')
    agent = make_agent(customer)
    github.fail_next(*[Answer(503, message='Service Unavailable')] * 50)  # keep the job open while the admin looks
    provisioning.request_deploy(owner=customer, agent_id=agent.id)
    job = job_of(agent)
    await user.open('/admin')
    user.find(marker=f'cancel-{job.id}').click()
    await eventually(lambda: reload(job).status == 'cancelled', 'the job to be cancelled')


async def test_admin_retries_a_failed_agent(github, user: User):
    await log_in_as_admin(user)
    customer = make_entitled_user('customer@example.com')
    agent = make_agent(customer)
    provisioning.request_deploy(owner=customer, agent_id=agent.id)
    failed = job_of(agent)
    await eventually(lambda: reload(failed).status in ('dispatched', 'in_progress'), 'the dispatch')
    body, headers = signed_callback(failed.id, 'failed', message='server quota exceeded')
    assert (await user.http_client.post('/api/provisioning/callback', content=body, headers=headers)).is_success
    await user.open('/admin')
    await user.should_see('server quota exceeded')
    user.find(marker=f'retry-{failed.id}').click()
    await eventually(lambda: job_of(agent).id != failed.id, 'a new job')


async def test_admin_disables_an_account_which_can_then_not_log_in(user: User):
    await log_in_as_admin(user)
    customer = make_user('customer@example.com')
    await user.open('/admin')
    user.find(marker=f'disable-{customer.id}').click()
    await user.should_see('customer@example.com disabled', retries=50)
    assert reload(customer).is_disabled
    with pytest.raises(accounts.AccountError):
        accounts.authenticate(email='customer@example.com', password=PASSWORD, address='1.2.3.4')


async def test_checklist_confirms_a_good_github_configuration(github, user: User):
    await admin_page_shows(user, 'acme/infra reachable, classic token with repo scope')
    await user.should_see('.github/workflows/provision-agent.yml in acme/infra')
    await user.should_see('main exists in acme/infra')


async def test_checklist_says_when_the_workflow_file_is_missing(github, user: User):
    github.workflow_exists = False
    await admin_page_shows(user, 'there is no workflow provision-agent.yml in acme/infra')


async def test_checklist_says_when_the_ref_does_not_exist(github, monkeypatch, user: User):
    reconfigure(monkeypatch, GITHUB_REF='release')
    await admin_page_shows(user, 'GITHUB_REF=release is no branch, tag or commit')


async def test_checklist_names_a_classic_token_without_the_repo_scope(github, user: User):
    github.token_scopes = 'read:org'
    await admin_page_shows(user, 'dispatching needs the repo scope')


async def test_checklist_names_a_token_without_write_access(github, user: User):
    github.token_scopes, github.can_push = None, False
    await admin_page_shows(user, 'it needs Actions: write')


async def test_checklist_says_what_to_do_when_github_is_not_configured(monkeypatch, user: User):
    reconfigure(monkeypatch, PROVISIONER='github')
    await admin_page_shows(user, 'GITHUB_TOKEN and GITHUB_REPOSITORY unset')
    await user.should_see('CALLBACK_SECRET is unset')


async def test_checklist_wants_https_for_a_public_address(monkeypatch, user: User):
    reconfigure(monkeypatch, PUBLIC_URL=TEST_ORIGIN)
    await admin_page_shows(user, 'is not https')


async def test_checklist_names_a_public_url_other_than_the_address_the_page_was_reached_at(monkeypatch, user: User):
    reconfigure(monkeypatch, PUBLIC_URL='https://agents.example.com')
    await admin_page_shows(user, f'this page was reached at {TEST_ORIGIN}: set PUBLIC_URL={TEST_ORIGIN}')


async def test_checklist_accepts_a_public_url_that_matches_the_address_the_page_was_reached_at(monkeypatch, user: User):
    reconfigure(monkeypatch, PUBLIC_URL=f'{TEST_ORIGIN}:80/')
    await admin_page_shows(user, 'Public URL')
    await user.should_not_see('this page was reached at')


async def test_admin_reprocesses_a_stored_github_delivery(github, user: User):
    from models import ProvisioningJob
    await log_in_as_admin(user)
    customer = make_entitled_user('customer@example.com')
    agent = make_agent(customer)
    provisioning.request_deploy(owner=customer, agent_id=agent.id)
    await eventually(lambda: reload(job_of(agent)).run_id, 'the dispatch')
    job = reload(job_of(agent))
    run = github.set_run(int(job.run_id), status='completed', conclusion='failure')
    body, headers = github.workflow_run_delivery(run, 'completed', delivery='delivery-1')
    WebhookEvent.create(source='github', event_id='delivery-1', type='workflow_run', payload=body.decode(),
                        status='failed', last_error='database was locked')
    await user.open('/admin')
    await user.should_see('database was locked')
    user.find(marker='reprocess-delivery-1').click()
    await eventually(lambda: WebhookEvent.get(WebhookEvent.event_id == 'delivery-1').status == 'processed',
                     'the delivery to be processed')
    assert ProvisioningJob.get_by_id(job.id).status == 'failed'


async def test_checklist_names_a_stripe_key_stripe_refuses(stripe_double, monkeypatch, user: User):
    reconfigure(monkeypatch, STRIPE_SECRET_KEY='sk_test_revoked')
    await admin_page_shows(user, 'check STRIPE_SECRET_KEY')


async def test_checklist_names_a_missing_webhook_secret(stripe_double, monkeypatch, user: User):
    reconfigure(monkeypatch, STRIPE_WEBHOOK_SECRET=None)
    await admin_page_shows(user, 'STRIPE_WEBHOOK_SECRET is unset')


async def test_admin_sees_this_periods_usage_by_model(user: User):
    await log_in_as_admin(user)
    agent = make_agent(make_user('customer@example.com'))
    with write_transaction():
        usage.add_usage(agent.id, 'claude-sonnet-4-5', {'requests': 2, 'input_tokens': 20, 'output_tokens': 40})
    await user.open('/admin')
    await user.should_see('2 requests, 20 input and 40 output tokens', retries=50)


async def test_admin_sees_which_jobs_are_heals(user: User):
    from datetime import timedelta

    from models import Agent, utcnow
    from services.provisioning import healing
    from services.provisioning.jobs import _create_job, _finish
    await log_in_as_admin(user)
    agent = make_agent(make_entitled_user('customer@example.com'), name='Silent bot', status='running')
    _finish(_create_job(agent, kind='provision', goal='running', message='Deploy requested.'), 'succeeded',
            agent_update=False)
    Agent.update(updated_at=utcnow() - timedelta(hours=1)).where(Agent.id == agent.id).execute()
    healing.mark_unreachable_agents(utcnow() - timedelta(days=1))
    assert healing.heal_unreachable_agents(utcnow() + timedelta(hours=1)) == [agent.id]
    await user.open('/admin')
    await user.should_see('provision (heal) · Silent bot')
