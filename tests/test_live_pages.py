"""The agent page and the agents list follow provisioning live, without a reload."""
from nicegui.testing import User

from models import ProvisioningJob
from services import provisioning
from tests.factories import PASSWORD, make_agent, make_entitled_user
from tests.github_double import GitHubDouble
from tests.provisioning_support import eventually, github, post_report  # noqa: F401


async def log_in_entitled(user: User):
    account = make_entitled_user('live@example.com')
    await user.open('/login')
    user.find(marker='email').type('live@example.com')
    user.find(marker='password').type(PASSWORD).trigger('keydown.enter')
    await user.should_see(marker='signed-in-user', retries=50)
    return account


async def report(user: User, job_id: int, status: str, **fields) -> None:
    assert (await post_report(user, job_id, status, **fields)).status_code == 200


async def test_the_agent_page_shows_each_step_as_callbacks_arrive(github: GitHubDouble, user: User):
    account = await log_in_entitled(user)
    agent = make_agent(account)
    await user.open(f'/agents/{agent.id}')
    user.find(marker='deploy').click()
    await user.should_see(marker='status-provisioning', retries=50)
    job = await eventually(lambda: ProvisioningJob.get_or_none((ProvisioningJob.agent == agent.id)
                                                               & (ProvisioningJob.status == 'dispatched')),
                           'the dispatch')
    await user.should_see(marker='step-dispatched step-done', retries=50)
    await user.should_see(marker='run-link')
    await user.should_see(marker='cancel')

    await report(user, job.id, 'progress', step='server_created', message='Server 42 created',
                 ip_address='203.0.113.7', server_id='42')
    await user.should_see(marker='step-server_created step-done', retries=50)
    await user.should_see(marker='step-agent_starting step-current')
    await user.should_see('Server 42 created')
    await user.should_see('IP address 203.0.113.7')

    await report(user, job.id, 'succeeded', step='running', message='The agent answers')
    await user.should_see(marker='status-running', retries=50)
    await user.should_see(marker='step-running step-done')
    await user.should_see(marker='stop')
    await user.should_not_see(marker='cancel')


async def test_a_failure_shows_the_reason_and_retry_deploys_again(github: GitHubDouble, user: User):
    account = await log_in_entitled(user)
    agent = make_agent(account)
    await user.open(f'/agents/{agent.id}')
    user.find(marker='deploy').click()
    job = await eventually(lambda: ProvisioningJob.get_or_none((ProvisioningJob.agent == agent.id)
                                                               & (ProvisioningJob.status == 'dispatched')),
                           'the dispatch')
    await report(user, job.id, 'failed', step='server_created', message='Hetzner: server limit reached')
    await user.should_see(marker='failure-reason', retries=50)
    await user.should_see(marker='step-server_created step-failed')
    await user.should_see('Hetzner: server limit reached')
    user.find(marker='retry').click()
    await user.should_see(marker='status-provisioning', retries=50)
    await eventually(lambda: len(github.dispatches) == 2, 'the second dispatch')


async def test_the_agents_list_updates_its_badges_live(github: GitHubDouble, user: User):
    account = await log_in_entitled(user)
    agent = make_agent(account)
    await user.open('/')
    await user.should_see(marker='status-draft')
    job = provisioning.request_deploy(owner=account, agent_id=agent.id)
    await user.should_see(marker='status-provisioning', retries=50)
    await eventually(lambda: ProvisioningJob.get_by_id(job.id).status == 'dispatched', 'the dispatch')
    await report(user, job.id, 'succeeded', ip_address='203.0.113.7')
    await user.should_see(marker='status-running', retries=50)
    await user.should_see('203.0.113.7')


async def test_the_page_rebuilds_from_the_database_when_opened_again(github: GitHubDouble, user: User):
    account = await log_in_entitled(user)
    agent = make_agent(account)
    job = provisioning.request_deploy(owner=account, agent_id=agent.id)
    await eventually(lambda: ProvisioningJob.get_by_id(job.id).status == 'dispatched', 'the dispatch')
    await report(user, job.id, 'progress', step='agent_starting', message='Container starting')
    await user.open(f'/agents/{agent.id}')
    await user.should_see(marker='step-agent_starting step-done')
    await user.should_see(marker='step-certificate step-current')
    await user.should_see('Container starting')
