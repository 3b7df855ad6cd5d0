"""Dispatch failures: transient ones are retried into exactly one run, permanent ones fail the job with the fix."""
import pytest
from nicegui.testing import User

from models import ProvisioningJob
from services.platform.settings import Settings, configure
from tests.factories import make_agent
from tests.github_double import PERMANENT, TRANSIENT, Answer, GitHubDouble
from tests.provisioning_support import deploy, github, headers, owner, reload, wait_dispatched  # noqa: F401


async def deploy_and_settle(user: User, owner, headers) -> ProvisioningJob:
    return await wait_dispatched((await deploy(user, make_agent(owner), headers))['id'])


@pytest.mark.parametrize('failure', list(TRANSIENT))
async def test_a_transient_failure_is_retried_into_exactly_one_run(github: GitHubDouble, user: User, owner, headers,
                                                                   failure):
    github.fail_next(TRANSIENT[failure])
    job = await deploy_and_settle(user, owner, headers)
    assert job.status == 'dispatched', job.last_error
    runs = github.runs_for(job.id)
    assert len(runs) == 1, 'the job must end with exactly one workflow run'
    assert job.run_id == str(runs[0]['id'])
    if TRANSIENT[failure].creates_run:
        # the first request went through: the retry found its run by name instead of dispatching again
        assert len(github.dispatches) == 1
        assert any(r.path.startswith('/repos/acme/infra/actions/workflows/provision-agent.yml/runs')
                   for r in github.requests)
    else:
        assert len(github.dispatches) == 2
        assert [r.answered for r in github.dispatches] == [TRANSIENT[failure].status, 200]
    assert reload(job).attempts == 2


async def test_several_transient_failures_in_a_row_are_all_retried(github: GitHubDouble, user: User, owner,
                                                                   headers):
    github.fail_next(TRANSIENT['server error 502'], TRANSIENT['rate limit 429'],
                     TRANSIENT['secondary rate limit 403'])
    job = await deploy_and_settle(user, owner, headers)
    assert job.status == 'dispatched'
    assert [r.answered for r in github.dispatches] == [502, 429, 403, 200]
    assert len(github.runs) == 1 and job.attempts == 4


@pytest.mark.parametrize('status', list(PERMANENT))
async def test_a_permanent_failure_fails_the_job_with_what_to_fix(github: GitHubDouble, user: User, owner, headers,
                                                                  status):
    answer, fix = PERMANENT[status]
    github.fail_next(answer)
    job = await deploy_and_settle(user, owner, headers)
    assert job.status == 'failed'
    assert fix in job.last_error
    assert f'GitHub answered {status}: {answer.message}' in job.last_error
    assert len(github.dispatches) == 1 and not github.runs
    agent = reload(job.agent)
    assert agent.status == 'failed' and fix in agent.status_reason
    shown = (await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)).json()
    assert shown['job']['status'] == 'failed' and fix not in shown['job']['last_error']  # the customer's view


async def test_retry_after_is_honoured(github: GitHubDouble, user: User, owner, headers):
    github.fail_next(Answer(503, {'retry-after': '1'}, 'Service Unavailable'))
    job = await deploy_and_settle(user, owner, headers)
    assert job.status == 'dispatched'
    first, second = github.dispatches
    assert second.at - first.at >= 1.0, 'the retry came before the Retry-After second was over'


async def test_a_transient_failure_that_persists_fails_after_the_configured_attempts(github: GitHubDouble,
                                                                                     user: User, owner, headers,
                                                                                     monkeypatch):
    monkeypatch.setenv('GITHUB_DISPATCH_ATTEMPTS', '3')
    configure(Settings())
    github.fail_next(*[Answer(502, message='Server Error')] * 5)
    job = await deploy_and_settle(user, owner, headers)
    assert job.status == 'failed'
    assert 'GitHub answered 502' in job.last_error and 'Gave up after 3 attempts' in job.last_error
    assert len(github.dispatches) == 3


async def test_a_server_without_run_details_answers_204_and_the_callback_names_the_run(github: GitHubDouble,
                                                                                      user: User, owner, headers):
    from tests.provisioning_support import signed_callback
    github.default = Answer(204)
    job = await deploy_and_settle(user, owner, headers)
    assert job.status == 'dispatched' and job.run_id is None
    [run] = github.runs_for(job.id)
    body, signature = signed_callback(job.id, 'in_progress', run_id=str(run['id']), run_url=run['html_url'])
    assert (await user.http_client.post('/api/provisioning/callback', content=body, headers=signature)) \
        .status_code == 200
    assert (reload(job).run_id, reload(job).run_url) == (str(run['id']), run['html_url'])


async def test_an_enterprise_server_that_rejects_run_details_gets_the_call_again_without_it(github: GitHubDouble,
                                                                                           user: User, owner,
                                                                                           headers):
    github.rejects_run_details = True
    job = await deploy_and_settle(user, owner, headers)
    assert job.status == 'dispatched'
    first, second = github.dispatches
    assert first.answered == 422 and 'return_run_details' in first.body
    assert second.answered == 204 and 'return_run_details' not in second.body
    assert second.body['inputs'] == first.body['inputs']
    job_two = await deploy_and_settle(user, owner, headers)  # remembered: no more rejected calls
    assert [r.answered for r in github.dispatches[2:]] == [204]
    assert job_two.status == 'dispatched'
