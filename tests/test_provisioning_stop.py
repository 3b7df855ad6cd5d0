"""Stop, Delete, Cancel and billing's stop: deprovision jobs through the same workflow."""
from nicegui.testing import User

from models import Agent
from services import provisioning
from tests.factories import make_agent
from tests.github_double import GitHubDouble
from tests.provisioning_support import eventually, github, headers, job_of, owner, post_report, reload, wait_dispatched  # noqa: F401


async def report(user: User, job_id: int, status: str, **fields) -> None:
    response = await post_report(user, job_id, status, **fields)
    assert response.status_code == 200, response.text


async def running_agent(user: User, owner, headers) -> Agent:
    """An agent deployed the whole way: dispatched, then reported running with a server."""
    agent = make_agent(owner)
    job_id = (await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)).json()['job']['id']
    await wait_dispatched(job_id)
    await report(user, job_id, 'succeeded', ip_address='203.0.113.7', server_id='42')
    assert reload(agent).status == 'running'
    return reload(agent)


async def test_stop_deprovisions_the_server_and_leaves_the_agent_stopped(github: GitHubDouble, user: User, owner,
                                                                         headers):
    agent = await running_agent(user, owner, headers)
    response = await user.http_client.post(f'/api/agents/{agent.id}/stop', headers=headers)
    assert response.status_code == 202
    job = response.json()['job']
    assert job['kind'] == 'deprovision'
    assert reload(agent).status == 'stopping'
    await wait_dispatched(job['id'])
    assert github.dispatches[-1].body['inputs']['action'] == 'deprovision'
    assert github.runs_for(job['id'], 'deprovision')

    again = await user.http_client.post(f'/api/agents/{agent.id}/stop', headers=headers)
    assert again.json()['job']['id'] == job['id']  # stop is idempotent while it runs

    await report(user, job['id'], 'progress', step='server_deleted', message='Server 42 deleted')
    await report(user, job['id'], 'succeeded', step='stopped')
    agent = reload(agent)
    assert (agent.status, agent.ip_address, agent.server_id) == ('stopped', None, None)
    stopped = await user.http_client.post(f'/api/agents/{agent.id}/stop', headers=headers)
    assert stopped.status_code == 409 and stopped.json()['error']['code'] == 'AGENT_NOT_RUNNING'


async def test_delete_of_a_running_agent_removes_its_server_first(github: GitHubDouble, user: User, owner,
                                                                   headers):
    agent = await running_agent(user, owner, headers)
    response = await user.http_client.delete(f'/api/agents/{agent.id}', headers=headers)
    assert response.status_code == 202
    assert response.json()['status'] == 'deleting'
    job = response.json()['job']
    assert job['kind'] == 'deprovision'
    await wait_dispatched(job['id'])
    assert (await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)).json()['status'] == 'deleting'
    await report(user, job['id'], 'succeeded', step='deleted')
    assert reload(agent).status == 'deleted'
    assert (await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)).status_code == 404


async def test_delete_while_stopping_turns_the_stop_into_a_delete(github: GitHubDouble, user: User, owner,
                                                                   headers):
    agent = await running_agent(user, owner, headers)
    stop = (await user.http_client.post(f'/api/agents/{agent.id}/stop', headers=headers)).json()['job']
    deleted = (await user.http_client.delete(f'/api/agents/{agent.id}', headers=headers)).json()
    assert deleted['job']['id'] == stop['id'] and deleted['status'] == 'deleting'
    await wait_dispatched(stop['id'])
    await report(user, stop['id'], 'succeeded')
    assert reload(agent).status == 'deleted'
    assert len([r for r in github.dispatches if r.body['inputs']['action'] == 'deprovision']) == 1


async def test_stop_while_deploying_cancels_the_deploy_and_its_run_then_deprovisions(github: GitHubDouble,
                                                                                    user: User, owner, headers):
    agent = make_agent(owner)
    deploy = (await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)).json()['job']
    deploy_job = await wait_dispatched(deploy['id'])
    response = await user.http_client.post(f'/api/agents/{agent.id}/stop', headers=headers)
    stop = response.json()['job']
    assert stop['kind'] == 'deprovision'
    assert reload(deploy_job).status == 'cancelled'
    await eventually(lambda: github.cancels, 'the deploy run to be cancelled')
    assert github.runs[int(deploy_job.run_id)]['conclusion'] == 'cancelled'
    await wait_dispatched(stop['id'])
    await report(user, deploy['id'], 'succeeded', ip_address='203.0.113.8')  # a late report of the cancelled run
    assert reload(agent).status == 'stopping'
    await report(user, stop['id'], 'succeeded')
    assert reload(agent).status == 'stopped'


async def test_cancel_of_a_dispatched_job_cancels_its_run_and_removes_any_server(github: GitHubDouble, user: User,
                                                                                   owner, headers):
    agent = make_agent(owner)
    deploy = (await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)).json()['job']
    job = await wait_dispatched(deploy['id'])
    response = await user.http_client.post(f'/api/agents/{agent.id}/cancel', headers=headers)
    assert response.status_code == 202 and response.json()['job']['status'] == 'cancelled'
    await eventually(lambda: github.cancels, 'the run to be cancelled on GitHub')
    assert github.cancels[0].path.endswith(f'/runs/{job.run_id}/cancel')
    removal = job_of(agent)
    assert (removal.kind, reload(agent).status) == ('deprovision', 'stopping')
    await wait_dispatched(removal.id)
    await report(user, removal.id, 'succeeded')
    assert reload(agent).status == 'stopped'
    again = await user.http_client.post(f'/api/agents/{agent.id}/cancel', headers=headers)
    assert again.status_code == 409 and again.json()['error']['code'] == 'NO_OPEN_JOB'


def test_cancel_before_anything_was_dispatched_restores_the_agent(github: GitHubDouble, owner):  # noqa: ARG001
    agent = make_agent(owner)  # no app running here: nothing dispatches the queued job
    job = provisioning.request_deploy(owner=owner, agent_id=agent.id)
    assert reload(agent).status == 'provisioning'
    cancelled = provisioning.cancel(owner=owner, agent_id=agent.id)
    assert (cancelled.id, cancelled.status, cancelled.cancel_run) == (job.id, 'cancelled', False)
    assert reload(agent).status == 'draft'


def test_billing_stop_is_idempotent_and_a_no_op_without_a_server(github: GitHubDouble, owner):  # noqa: ARG001
    running = make_agent(owner, status='running')
    first = provisioning.request_stop(owner=owner, agent_id=running.id, reason='Stopped because the plan ended.')
    second = provisioning.request_stop(owner=owner, agent_id=running.id, reason='Stopped because the plan ended.')
    assert first is not None and first.id == second.id and first.kind == 'deprovision'
    assert reload(running).status == 'stopping'
    assert first.events.first().message == 'Stopped because the plan ended.'
    draft = make_agent(owner, name='Draft')
    assert provisioning.request_stop(owner=owner, agent_id=draft.id) is None
    assert reload(draft).status == 'draft'


async def test_a_failed_stop_can_be_retried(github: GitHubDouble, user: User, owner, headers):
    agent = await running_agent(user, owner, headers)
    stop = (await user.http_client.post(f'/api/agents/{agent.id}/stop', headers=headers)).json()['job']
    await wait_dispatched(stop['id'])
    await report(user, stop['id'], 'failed', message='Hetzner API unavailable')
    agent = reload(agent)
    assert agent.status == 'failed' and agent.status_reason.startswith('Stopping failed: Hetzner API unavailable')
    retried = (await user.http_client.post(f'/api/agents/{agent.id}/retry', headers=headers)).json()['job']
    assert retried['kind'] == 'deprovision' and retried['id'] != stop['id']
    await wait_dispatched(retried['id'])
    await report(user, retried['id'], 'succeeded')
    assert reload(agent).status == 'stopped'


async def test_delete_of_a_draft_is_immediate_and_dispatches_nothing(github: GitHubDouble, user: User, owner,
                                                                     headers):
    agent = make_agent(owner)
    response = await user.http_client.delete(f'/api/agents/{agent.id}', headers=headers)
    assert response.status_code == 202 and response.json()['status'] == 'deleted'
    assert not github.requests


def test_stop_of_a_deploy_that_never_left_the_queue_cancels_it_and_restores_the_agent(github: GitHubDouble,  # noqa: ARG001
                                                                                     owner):
    agent = make_agent(owner)  # no app running here: nothing dispatches the queued job
    deploy = provisioning.request_deploy(owner=owner, agent_id=agent.id)
    stopped = provisioning.stop_agent(owner=owner, agent_id=agent.id)
    assert (stopped.id, stopped.status) == (deploy.id, 'cancelled')
    assert reload(agent).status == 'draft'
    assert not github.requests
