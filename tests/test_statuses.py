"""Every status the application writes is a member of its enum: a whole lifecycle leaves no stray spelling behind."""
from nicegui.testing import User

from models import Agent, AgentStatus, EventStatus, JobKind, JobStatus, ProvisioningJob, WebhookEvent
from tests.factories import make_agent
from tests.github_double import GitHubDouble
from tests.provisioning_support import deploy, github, headers, owner, post_report, reload, wait_dispatched  # noqa: F401


async def report(user: User, job_id: int, status: str, **fields) -> None:
    response = await post_report(user, job_id, status, **fields)
    assert response.status_code == 200, response.text


async def deploy_stop_and_delete(github: GitHubDouble, user: User, owner, headers) -> Agent:
    """An agent taken through deploy, a run's webhook, running, stop and delete, as the API and workflow drive it."""
    agent = make_agent(owner)
    job = await wait_dispatched((await deploy(user, agent, headers))['id'])
    run = github.set_run(int(job.run_id), status='in_progress')
    body, webhook_headers = github.workflow_run_delivery(run, 'in_progress')
    assert (await user.http_client.post('/api/webhooks/github', content=body, headers=webhook_headers)).is_success
    await report(user, job.id, 'succeeded', ip_address='203.0.113.7', server_id='42')
    assert reload(agent).status == 'running'
    stop = (await user.http_client.post(f'/api/agents/{agent.id}/stop', headers=headers)).json()['job']
    await wait_dispatched(stop['id'])
    await report(user, stop['id'], 'succeeded', step='stopped')
    assert (await user.http_client.delete(f'/api/agents/{agent.id}', headers=headers)).is_success
    assert reload(agent).status == 'deleted'
    return agent


async def test_every_status_stored_by_a_whole_lifecycle_is_a_member_of_its_enum(github: GitHubDouble, user: User,
                                                                                owner, headers):
    await deploy_stop_and_delete(github, user, owner, headers)
    jobs = list(ProvisioningJob.select())
    stored = {
        AgentStatus: {agent.status for agent in Agent.select()}
        | {job.goal for job in jobs} | {job.previous_status for job in jobs},
        JobStatus: {job.status for job in jobs},
        JobKind: {job.kind for job in jobs},
        EventStatus: {event.status for event in WebhookEvent.select()},
    }
    assert all(stored.values()), stored
    strays = {enum.__name__: values - set(enum) for enum, values in stored.items() if values - set(enum)}
    assert not strays
