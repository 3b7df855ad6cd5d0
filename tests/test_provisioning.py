"""Deploy → dispatch → callbacks → running, over real HTTP to the GitHub double."""
import asyncio

from nicegui.testing import User

from models import Agent, JobEvent, ProvisioningJob
from services import provisioning
from services.platform.settings import Settings, configure
from tests.factories import make_agent, make_entitled_user, make_token
from tests.github_double import GitHubDouble
from tests.provisioning_support import (  # noqa: F401
    deploy,
    dispatcher_idle,
    eventually,
    github,
    headers,
    job_of,
    make_silent,
    owner,
    post_report,
    reload,
    wait_dispatched,
)


async def test_deploy_dispatches_the_workflow_once_with_the_spec_body(github: GitHubDouble, user: User, owner,
                                                                      headers):
    agent = make_agent(owner, region='hel1', size='medium')
    job = await deploy(user, agent, headers)
    assert (job['kind'], job['status'], job['attempts']) == ('provision', 'queued', 0)
    assert reload(agent).status == 'provisioning'

    stored = await wait_dispatched(job['id'])
    assert stored.status == 'dispatched'
    [request] = github.dispatches
    assert request.headers['authorization'] == 'Bearer ghp_test_token'
    assert request.headers['accept'] == 'application/vnd.github+json'
    assert request.headers['x-github-api-version'] == '2022-11-28'
    assert request.body == {'ref': 'main', 'return_run_details': True, 'inputs': {
        'job_id': str(job['id']), 'agent_id': str(agent.id), 'action': 'provision', 'region': 'hel1',
        'size': 'medium', 'callback_url': 'http://localhost:8080/api/provisioning/callback'}}
    [run] = github.runs_for(job['id'])
    assert (stored.run_id, stored.run_url) == (str(run['id']), run['html_url'])

    shown = (await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)).json()
    assert shown['status'] == 'provisioning'
    assert shown['job']['run_url'] is None and shown['job']['attempts'] == 1


async def test_callbacks_drive_the_agent_to_running_with_its_ip(github: GitHubDouble, user: User, owner, headers):
    agent = make_agent(owner)
    job = await deploy(user, agent, headers)
    await wait_dispatched(job['id'])
    for status, fields in (('in_progress', {'step': 'started', 'message': 'Runner picked the job up'}),
                           ('progress', {'step': 'server_created', 'message': 'Server 42 created',
                                         'ip_address': '203.0.113.7', 'server_id': '42'}),
                           ('progress', {'step': 'agent_starting', 'message': 'Starting the container'}),
                           ('succeeded', {'step': 'running', 'message': 'The agent answers on port 8080',
                                          'ip_address': '203.0.113.7', 'server_id': '42'})):
        response = await post_report(user, job['id'], status, **fields)
        assert response.status_code == 200, response.text
        assert response.json()['changed'] is True

    agent = reload(agent)
    assert (agent.status, agent.ip_address, agent.server_id) == ('running', '203.0.113.7', '42')
    shown = (await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)).json()
    assert shown['ip_address'] == '203.0.113.7'
    assert shown['job']['status'] == 'succeeded'
    timeline = (await user.http_client.get(f'/api/agents/{agent.id}/events', headers=headers)).json()['events']
    assert [event['step'] for event in timeline] == ['queued', 'dispatching', 'dispatched', 'started',
                                                     'server_created', 'agent_starting', 'running']
    assert set(timeline[0]) == {'time', 'step', 'message'} and timeline[0]['time'].endswith('Z')
    assert len(github.dispatches) == 1


async def test_deploy_while_a_job_is_open_returns_that_job(github: GitHubDouble, user: User, owner, headers):
    agent = make_agent(owner)
    first = await deploy(user, agent, headers)
    again = await deploy(user, agent, headers)
    assert again['id'] == first['id']
    await wait_dispatched(first['id'])
    assert (await deploy(user, agent, headers))['id'] == first['id']
    assert ProvisioningJob.select().count() == 1
    assert len(github.dispatches) == 1


async def test_a_repeated_idempotency_key_returns_the_same_job_even_after_it_finished(github: GitHubDouble,
                                                                                       user: User, owner, headers):
    agent = make_agent(owner)
    job = await deploy(user, agent, headers, **{'Idempotency-Key': 'click-1'})
    await wait_dispatched(job['id'])
    await post_report(user, job['id'], 'failed', message='quota exceeded')
    assert reload(agent).status == 'failed'
    assert (await deploy(user, agent, headers, **{'Idempotency-Key': 'click-1'}))['id'] == job['id']
    other = make_agent(owner, name='Other')
    response = await user.http_client.post(f'/api/agents/{other.id}/deploy',
                                           headers={**headers, 'Idempotency-Key': 'click-1'})
    assert response.status_code == 409
    assert response.json()['error']['code'] == 'IDEMPOTENCY_KEY_REUSED'


async def test_concurrent_deploy_clicks_create_one_job_and_one_dispatch(github: GitHubDouble, user: User, owner,
                                                                         headers):
    agent = make_agent(owner)
    responses = await asyncio.gather(*(user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)
                                       for _ in range(8)))
    assert {response.status_code for response in responses} == {202}
    assert len({response.json()['job']['id'] for response in responses}) == 1
    job_id = responses[0].json()['job']['id']
    await wait_dispatched(job_id)
    await dispatcher_idle()  # every click's wake-up has run: a duplicate would be here by now
    assert ProvisioningJob.select().count() == 1
    assert len(github.dispatches) == 1 and len(github.runs) == 1


async def test_concurrent_deploys_at_the_plan_limit_let_only_one_pass(github: GitHubDouble, user: User):
    owner = make_entitled_user('starter@example.com', plan='starter')  # 1 agent
    headers = make_token(owner)
    agents = [make_agent(owner, name=f'agent {n}') for n in range(4)]
    responses = await asyncio.gather(*(user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)
                                       for agent in agents))
    assert sorted(response.status_code for response in responses) == [202, 403, 403, 403]
    assert {r.json()['error']['code'] for r in responses if r.status_code == 403} == {'AGENT_LIMIT_REACHED'}
    assert Agent.select().where(Agent.status == 'provisioning').count() == 1


async def test_deploy_without_provisioning_configured_answers_503(user: User, owner, headers, monkeypatch):
    monkeypatch.setenv('PROVISIONER', 'github')  # without it, agents would run on this machine
    configure(Settings())
    agent = make_agent(owner)
    response = await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)
    assert response.status_code == 503
    assert response.json()['error']['code'] == 'PROVISIONING_NOT_CONFIGURED'
    assert reload(agent).status == 'draft' and not ProvisioningJob.select().exists()


async def test_a_failure_report_fails_the_agent_with_the_reason_and_retry_deploys_again(github: GitHubDouble,
                                                                                        user: User, owner, headers):
    agent = make_agent(owner)
    job = await deploy(user, agent, headers)
    await wait_dispatched(job['id'])
    response = await post_report(user, job['id'], 'failed', step='server_create',
                                 message='Hetzner: server limit reached')
    assert response.status_code == 200
    agent = reload(agent)
    assert agent.status == 'failed'
    assert 'Hetzner: server limit reached' in agent.status_reason
    shown = (await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)).json()
    assert shown['job']['status'] == 'failed' and 'server limit' in reload(job_of(agent)).last_error

    response = await user.http_client.post(f'/api/agents/{agent.id}/retry', headers=headers)
    assert response.status_code == 202
    retried = response.json()['job']
    assert retried['id'] != job['id'] and retried['kind'] == 'provision'
    await wait_dispatched(retried['id'])
    assert len(github.dispatches) == 2
    assert reload(agent).status == 'provisioning'


async def test_a_job_that_went_silent_is_failed_and_its_run_cancelled_by_the_reaper(github: GitHubDouble,
                                                                                   user: User, owner, headers):
    agent = make_agent(owner)
    job = await deploy(user, agent, headers)
    stored = await wait_dispatched(job['id'])
    await post_report(user, job['id'], 'in_progress', step='started', message='Runner started')
    github.set_run(int(stored.run_id), status='in_progress')
    make_silent(job['id'], minutes=31)

    assert provisioning.reap_silent_jobs() == [job['id']]
    stored = reload(stored)
    assert stored.status == 'failed'
    assert 'No news for 30 minutes while the run was in_progress' in stored.last_error
    assert reload(agent).status == 'failed'
    await eventually(lambda: github.cancels, 'the run to be cancelled on GitHub')
    assert github.runs[int(stored.run_id)]['conclusion'] == 'cancelled'
    await eventually(lambda: JobEvent.select().where(JobEvent.step == 'run_cancelled').exists(),
                     'the cancellation to be recorded')
    assert provisioning.reap_silent_jobs() == []


async def test_the_reaper_names_a_run_that_ended_without_reporting(github: GitHubDouble, user: User, owner,
                                                                   headers):
    agent = make_agent(owner)
    job = await deploy(user, agent, headers)
    stored = await wait_dispatched(job['id'])
    github.set_run(int(stored.run_id), status='completed', conclusion='success')
    make_silent(job['id'], minutes=45)
    provisioning.reap_silent_jobs()
    stored = reload(stored)
    assert stored.status == 'failed'
    assert 'ended (success) without reporting back' in stored.last_error and 'PUBLIC_URL' in stored.last_error
    assert not github.cancels
