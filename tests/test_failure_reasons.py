"""Customers get a plain reason for a failure; admins the details; run links only as http(s) addresses."""
from nicegui.testing import User

from models import Agent, JobEvent, ProvisioningJob
from tests.factories import make_agent, make_token, make_user
from tests.pages_support import log_in, log_in_as_admin

INTERNAL = 'GitHub refused the token: set GITHUB_TOKEN with Actions: write'
RUN_URL = 'https://github.com/operator/private-infra/actions/runs/77'


def failed_agent(owner, *, run_url: str = RUN_URL) -> Agent:
    agent = make_agent(owner, status='failed')
    Agent.update(status_reason=INTERNAL).where(Agent.id == agent.id).execute()
    job = ProvisioningJob.create(agent=agent, kind='provision', status='failed', last_error=INTERNAL,
                                 run_url=run_url, idempotency_key=f'test:{agent.id}')
    JobEvent.create(job=job, step='dispatched', message=f'Dispatched. Run {run_url}.')
    JobEvent.create(job=job, step='server_created', message='Server 4711 created in fsn1.')
    JobEvent.create(job=job, step='failed', message=INTERNAL)
    return agent


async def test_a_customer_sees_a_plain_reason_and_no_run_link(user: User):
    make_user('first-is-admin@example.com')
    agent = failed_agent(await log_in(user))
    await user.open(f'/agents/{agent.id}')
    await user.should_see('problem on our side', marker='failure-reason')
    await user.should_not_see(INTERNAL)
    await user.should_not_see(marker='run-link')


async def test_an_admin_viewing_the_page_sees_the_details_and_the_run_link(user: User):
    agent = failed_agent(await log_in_as_admin(user))
    await user.open(f'/agents/{agent.id}')
    await user.should_see(INTERNAL, marker='failure-reason')
    await user.should_see(marker='run-link')


async def test_a_run_url_that_is_not_http_never_becomes_a_link(user: User):
    agent = failed_agent(await log_in_as_admin(user), run_url='javascript:alert(document.cookie)')
    await user.open(f'/agents/{agent.id}')
    await user.should_see(marker='failure-reason')
    await user.should_not_see(marker='run-link')


async def test_the_api_gives_the_customer_the_plain_reason_and_no_run_url(user: User):
    make_user('first-is-admin@example.com')
    owner = make_user('customer@example.com')
    agent = failed_agent(owner)
    job = (await user.http_client.get(f'/api/agents/{agent.id}', headers=make_token(owner))).json()['job']
    assert set(job) == {'id', 'kind', 'status', 'attempts', 'last_error', 'run_id', 'run_url', 'created_at',
                        'updated_at'}
    assert 'problem on our side' in job['last_error'] and 'GITHUB_TOKEN' not in job['last_error']
    assert job['run_url'] is None


async def test_a_cancellation_reason_is_shown_to_the_customer_as_it_is(user: User):
    make_user('first-is-admin@example.com')
    owner = await log_in(user)
    agent = make_agent(owner, status='failed')
    Agent.update(status_reason='Deploying was cancelled; a server may exist.').where(Agent.id == agent.id).execute()
    ProvisioningJob.create(agent=agent, kind='provision', status='cancelled', last_error='Cancelled by the user.',
                           idempotency_key=f'test:{agent.id}')
    await user.open(f'/agents/{agent.id}')
    await user.should_see('Deploying was cancelled; a server may exist.', marker='failure-reason')


async def test_a_customer_reads_the_timeline_without_operator_details(user: User):
    make_user('first-is-admin@example.com')
    agent = failed_agent(await log_in(user))
    await user.open(f'/agents/{agent.id}')
    await user.should_see('Server 4711 created in fsn1.', marker='event-server_created')
    await user.should_see('problem on our side', marker='event-failed')
    await user.should_not_see(RUN_URL)
    await user.should_not_see(INTERNAL)


async def test_an_admin_reads_the_timeline_with_the_details(user: User):
    agent = failed_agent(await log_in_as_admin(user))
    await user.open(f'/agents/{agent.id}')
    await user.should_see(INTERNAL, marker='event-failed')
    await user.should_see(RUN_URL, marker='event-dispatched')


async def test_the_api_timeline_gives_the_customer_plain_messages(user: User):
    make_user('first-is-admin@example.com')
    owner = make_user('customer@example.com')
    agent = failed_agent(owner)
    events = (await user.http_client.get(f'/api/agents/{agent.id}/events', headers=make_token(owner))).json()
    messages = {event['step']: event['message'] for event in events['events']}
    assert messages['server_created'] == 'Server 4711 created in fsn1.'
    assert RUN_URL not in messages['dispatched'] and INTERNAL not in messages['failed']
