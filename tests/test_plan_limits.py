"""The plan's agent limit holds whatever the owner clicks: every agent whose server may exist counts against it, and
enforcement stops such agents until a deprovision confirms the server is gone."""
import pytest
from nicegui.testing import User

from models import Agent, CompGrant, ProvisioningJob, utcnow
from services import provisioning
from services.billing import billing, entitlements, gate
from services.billing.gate import GateError
from services.provisioning import Report
from tests.factories import make_agent, make_entitled_user, make_token, make_user
from tests.github_double import GitHubDouble
from tests.provisioning_support import github, job_of, post_report, reload, wait_dispatched  # noqa: F401
from tests.stripe_double import StripeDouble, stripe_double  # noqa: F401


def refusal(user, agent: Agent) -> str:
    with pytest.raises(GateError) as error:
        gate.check_can_deploy(user=user, agent=agent)
    return error.value.code


def with_server(agent: Agent, status: str = 'running') -> Agent:
    Agent.update(status=status, server_id='42', ip_address='203.0.113.7').where(Agent.id == agent.id).execute()
    return reload(agent)


async def report(user: User, job_id: int, status: str, **fields) -> None:
    response = await post_report(user, job_id, status, **fields)
    assert response.status_code == 200, response.text


async def deploy(user: User, agent: Agent, headers: dict[str, str]):
    return await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)


async def agents_used(user: User, headers: dict[str, str]) -> int:
    return (await user.http_client.get('/api/billing', headers=headers)).json()['agents_used']


# --- the escape: cancelling work that reached GitHub ----------------------------------------------------------------

def test_stop_then_cancel_of_a_running_agent_queues_a_deprovision_and_keeps_it_counted(github: GitHubDouble):
    owner = make_entitled_user(plan='starter')
    agent = with_server(make_agent(owner))
    stop = provisioning.request_stop(owner=owner, agent_id=agent.id)
    provisioning.work_on(stop.id)
    assert reload(stop).status == 'dispatched'
    provisioning.cancel(owner=owner, agent_id=agent.id)
    removal = job_of(agent)
    assert (removal.kind, removal.status, removal.id != stop.id) == ('deprovision', 'queued', True)
    assert reload(agent).status == 'stopping'
    assert entitlements.agents_used(owner) == 1
    assert refusal(owner, make_agent(owner, name='second')) == 'AGENT_LIMIT_REACHED'


def test_cancel_of_a_stop_that_never_left_the_queue_leaves_the_agent_running(github: GitHubDouble):  # noqa: ARG001
    owner = make_entitled_user(plan='starter')
    agent = with_server(make_agent(owner))
    provisioning.request_stop(owner=owner, agent_id=agent.id)
    provisioning.cancel(owner=owner, agent_id=agent.id)
    assert reload(agent).status == 'running'
    assert ProvisioningJob.select().where(ProvisioningJob.open_agent == agent.id).count() == 0


async def test_stop_then_cancel_through_the_api_leaves_no_room_for_a_second_agent(github: GitHubDouble, user: User):
    owner = make_entitled_user(plan='starter')
    headers = make_token(owner)
    first = make_agent(owner)
    job_id = (await deploy(user, first, headers)).json()['job']['id']
    await wait_dispatched(job_id)
    await report(user, job_id, 'succeeded', ip_address='203.0.113.7', server_id='42')
    stop = (await user.http_client.post(f'/api/agents/{first.id}/stop', headers=headers)).json()['job']
    await wait_dispatched(stop['id'])
    cancelled = await user.http_client.post(f'/api/agents/{first.id}/cancel', headers=headers)
    assert cancelled.status_code == 202
    assert await agents_used(user, headers) == 1
    refused = await deploy(user, make_agent(owner, name='second'), headers)
    assert refused.status_code == 403 and refused.json()['error']['code'] == 'AGENT_LIMIT_REACHED'
    shown = (await user.http_client.get(f'/api/agents/{first.id}', headers=headers)).json()
    assert (shown['status'], shown['job']['kind']) == ('stopping', 'deprovision')


async def test_cancel_after_the_server_was_created_removes_it_before_another_agent_may_run(github: GitHubDouble,
                                                                                          user: User):
    owner = make_entitled_user(plan='starter')
    headers = make_token(owner)
    first, second = make_agent(owner), make_agent(owner, name='second')
    job_id = (await deploy(user, first, headers)).json()['job']['id']
    await wait_dispatched(job_id)
    await report(user, job_id, 'progress', step='server_created', server_id='42', ip_address='203.0.113.7')
    assert (await user.http_client.post(f'/api/agents/{first.id}/cancel', headers=headers)).status_code == 202
    assert await agents_used(user, headers) == 1
    assert (await deploy(user, second, headers)).status_code == 403
    removal = await wait_dispatched(job_of(first).id)
    assert removal.kind == 'deprovision' and github.dispatches[-1].body['inputs']['action'] == 'deprovision'
    assert github.dispatches[-1].body['inputs']['agent_id'] == str(first.id)
    await report(user, removal.id, 'succeeded')
    assert (reload(first).status, reload(first).server_id) == ('stopped', None)
    assert await agents_used(user, headers) == 0
    assert (await deploy(user, second, headers)).status_code == 202


# --- what counts ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('status', ['provisioning', 'running', 'stopping', 'deleting'])
def test_an_agent_whose_server_may_exist_uses_up_the_plan(status):
    owner = make_entitled_user(plan='starter')
    make_agent(owner, status=status)
    assert entitlements.agents_used(owner) == 1
    assert billing.summary(owner)['agents_used'] == 1
    assert refusal(owner, make_agent(owner, name='second')) == 'AGENT_LIMIT_REACHED'


def test_a_failed_agent_with_a_reported_server_uses_up_the_plan():
    owner = make_entitled_user(plan='starter')
    with_server(make_agent(owner), status='failed')
    assert billing.summary(owner)['agents_used'] == 1
    assert refusal(owner, make_agent(owner, name='second')) == 'AGENT_LIMIT_REACHED'


def test_a_failed_agent_whose_last_run_reached_github_uses_up_the_plan(github: GitHubDouble):  # noqa: ARG001
    owner = make_entitled_user(plan='starter')
    agent = make_agent(owner)
    job = provisioning.request_deploy(owner=owner, agent_id=agent.id)
    provisioning.work_on(job.id)
    provisioning.apply_report(Report(job_id=job.id, status='failed', message='Hetzner said no'))
    assert reload(agent).status == 'failed' and reload(agent).server_id is None
    assert entitlements.agents_used(owner) == 1
    assert refusal(owner, make_agent(owner, name='second')) == 'AGENT_LIMIT_REACHED'
    gate.check_can_deploy(user=owner, agent=agent)  # retrying the same agent is always allowed


def test_a_failed_agent_that_never_reached_github_does_not_count():
    owner = make_entitled_user(plan='starter')
    make_agent(owner, status='failed')
    assert entitlements.agents_used(owner) == 0
    gate.check_can_deploy(user=owner, agent=make_agent(owner, name='second'))


# --- enforcement ------------------------------------------------------------------------------------------------------

def lose_the_plan(owner) -> None:
    CompGrant.update(revoked_at=utcnow()).where(CompGrant.user == owner).execute()


def test_enforcement_stops_a_failed_agent_until_a_deprovision_confirms_its_server_is_gone():
    owner = make_entitled_user(plan='starter')
    agent = with_server(make_agent(owner), status='failed')
    lose_the_plan(owner)
    assert billing.enforce_entitlement(owner) == [agent]
    stop = job_of(agent)
    assert (stop.kind, reload(agent).status) == ('deprovision', 'stopping')
    provisioning.apply_report(Report(job_id=stop.id, status='failed', message='Hetzner API unavailable'))
    assert reload(agent).status == 'failed'
    assert billing.enforce_entitlement(owner) == [agent]  # the server may still be there: stop it again
    again = job_of(agent)
    assert again.id != stop.id and again.kind == 'deprovision'
    provisioning.apply_report(Report(job_id=again.id, status='succeeded'))
    assert reload(agent).status == 'stopped'
    assert billing.enforce_entitlement(owner) == []


def test_enforcement_keeps_a_working_agent_and_stops_a_failed_one_with_a_server():
    owner = make_entitled_user(plan='pro')
    failed = with_server(make_agent(owner, name='failed older'), status='failed')
    running = with_server(make_agent(owner, name='running newer'))
    CompGrant.update(plan='starter').where(CompGrant.user == owner).execute()
    assert billing.enforce_entitlement(owner) == [failed]
    assert reload(running).status == 'running'


def test_enforcement_does_not_stop_a_second_agent_while_one_is_already_being_removed():
    owner = make_entitled_user(plan='starter')
    with_server(make_agent(owner, name='older stopping'), status='stopping')
    running = with_server(make_agent(owner, name='newer running'))
    assert billing.enforce_entitlement(owner) == []
    assert reload(running).status == 'running'


# --- who is entitled ----------------------------------------------------------------------------------------------

def test_a_trialing_subscription_is_entitled_to_its_plan(stripe_double: StripeDouble):
    owner = make_user()
    billing.start_checkout(user=owner, plan='pro')
    session_id = list(stripe_double.sessions)[-1]
    stripe_double.complete_checkout(session_id, status='trialing')
    billing.fulfil_checkout(session_id)
    entitlement = entitlements.entitlement_for(owner)
    assert (entitlement.plan, entitlement.status, entitlement.agents_allowed) == ('pro', 'trialing', 3)
    gate.check_can_deploy(user=owner, agent=make_agent(owner))


def test_a_billing_stop_tried_again_after_it_failed_does_not_mail_the_owner_again(monkeypatch):
    mailed = []
    monkeypatch.setattr(billing.notifications, 'agent_stopped_for_billing', lambda agent, _: mailed.append(agent.id))
    owner = make_entitled_user(plan='starter')
    agent = with_server(make_agent(owner))
    lose_the_plan(owner)
    billing.enforce_entitlement(owner)
    provisioning.apply_report(Report(job_id=job_of(agent).id, status='failed', message='Hetzner API unavailable'))
    assert billing.enforce_entitlement(owner) == [agent]
    assert mailed == [agent.id]
