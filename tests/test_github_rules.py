"""The GitHub client's rules: the run lookup's time window, GitHub's rate-limit reset, back-off with jitter."""
import contextlib
import random
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from nicegui.testing import User

from models import ProvisioningJob
from services.platform import retry as retry_service
from services.platform.settings import Settings, configure
from services.provisioning import run_names
from services.provisioning.github import GitHub, GitHubError, dispatch_retry
from tests.factories import make_agent
from tests.github_double import Answer, GitHubDouble, github_time
from tests.provisioning_support import deploy, dispatched_job, eventually, github, headers, owner  # noqa: F401


def test_the_run_lookup_asks_github_only_for_runs_created_since_shortly_before_the_dispatch(github: GitHubDouble):
    dispatched_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    GitHub().find_run(action='provision', job_id=7, created_after=dispatched_at)
    [listing] = [r for r in github.requests if r.path.split('?')[0].endswith('/runs')]
    assert f'created=%3E%3D{github_time(dispatched_at - timedelta(minutes=5)).replace(":", "%3A")}' in listing.path
    assert 'event=workflow_dispatch' in listing.path


def test_the_run_lookup_ignores_an_older_namesake_run_and_finds_one_a_little_before_the_dispatch(
        github: GitHubDouble):
    dispatched_at = datetime.now(UTC).replace(microsecond=0)
    old = github.add_run(display_title='agenthost provision 7',
                         created_at=github_time(dispatched_at - timedelta(minutes=30)))
    assert GitHub().find_run(action='provision', job_id=7, created_after=dispatched_at) is None
    recent = github.add_run(display_title='agenthost provision 7',
                            created_at=github_time(dispatched_at - timedelta(minutes=2)))
    found = GitHub().find_run(action='provision', job_id=7, created_after=dispatched_at)
    assert found is not None and found.id == str(recent['id']) != str(old['id'])


def test_a_primary_rate_limit_waits_until_githubs_reset_time(github: GitHubDouble):
    reset = int(time.time()) + 600
    github.fail_next(Answer(403, {'x-ratelimit-remaining': '0', 'x-ratelimit-reset': str(reset)},
                            'API rate limit exceeded for user ID 1.'))
    with pytest.raises(GitHubError) as refused:
        GitHub().dispatch(job_id=7, agent_id=1, action='provision', region='fsn1', size='small',
                          callback_url='https://agenthost.example/api/provisioning/callback')
    error = refused.value
    assert error.transient
    assert reset - time.time() - 5 <= error.wait <= reset - time.time() + 1
    assert dispatch_retry(Settings()).delay(0, error.wait) == error.wait


class FakeRandom:
    """Stands in for `random` in services.platform.retry: records each jitter range, picks a known point in it."""
    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, low: float, high: float) -> float:
        self.ranges.append((low, high))
        return low + (high - low) * 0.25


def test_dispatch_retries_back_off_exponentially_with_full_jitter_up_to_the_maximum(monkeypatch):
    fake = FakeRandom()
    monkeypatch.setattr(retry_service, 'random', fake)
    settings = Settings(github_retry_base_seconds=2, github_retry_max_seconds=30)
    delays = [dispatch_retry(settings).delay(attempt - 1) for attempt in range(1, 7)]
    assert fake.ranges == [(0, 2), (0, 4), (0, 8), (0, 16), (0, 30), (0, 30)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 7.5, 7.5]


def test_back_off_is_spread_by_the_random_source(monkeypatch):
    monkeypatch.setattr(retry_service, 'random', random.Random(10))
    settings = Settings(github_retry_base_seconds=2, github_retry_max_seconds=30)
    delays = {dispatch_retry(settings).delay(3) for _ in range(20)}
    assert len(delays) > 1 and all(0 <= delay <= 16 for delay in delays)


async def test_a_job_and_its_agent_have_exactly_the_documented_json_keys(dispatched_job: ProvisioningJob,
                                                                         user: User, headers):
    response = await user.http_client.get(f'/api/agents/{dispatched_job.agent_id}', headers=headers)
    agent = response.json()
    assert set(agent) == {'id', 'name', 'description', 'model', 'system_prompt', 'region', 'size', 'status',
                          'ip_address', 'job', 'created_at', 'updated_at', 'endpoint_url', 'config_revision',
                          'applied_revision', 'health', 'health_message', 'last_heartbeat_at', 'usage'}
    assert set(agent['job']) == {'id', 'kind', 'status', 'attempts', 'last_error', 'run_id', 'run_url',
                                 'created_at', 'updated_at'}
    assert agent['job']['id'] == dispatched_job.id


async def test_a_dispatch_to_a_branch_github_does_not_know_fails_with_what_to_fix(github: GitHubDouble, user: User,
                                                                                  owner, headers, monkeypatch):
    monkeypatch.setenv('GITHUB_REF', 'no-such-branch')
    configure(Settings())
    job_id = (await deploy(user, make_agent(owner), headers))['id']
    job = await eventually(lambda: (job := ProvisioningJob.get_by_id(job_id)).status == 'failed' and job, 'the refusal')
    assert 'GitHub answered 422' in job.last_error and 'GITHUB_REF (no-such-branch)' in job.last_error
    assert [d.answered for d in github.dispatches] == [422]


def test_the_double_fails_the_test_when_its_own_code_raises():
    double = GitHubDouble()
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f'{double.url}/repos/acme/infra/actions/workflows/provision-agent.yml/dispatches',
                   content=b'{not json', headers={'Authorization': 'Bearer ghp_test_token'}, timeout=5)
    with pytest.raises(AssertionError, match='JSONDecodeError'):
        double.close()


def test_the_double_refuses_inputs_the_workflow_does_not_declare(github: GitHubDouble):
    response = httpx.post(f'{github.url}/repos/acme/infra/actions/workflows/provision-agent.yml/dispatches',
                          json={'ref': 'main', 'inputs': {'job_id': '1', 'secret': 'x'}},
                          headers={'Authorization': 'Bearer ghp_test_token'}, timeout=5)
    assert response.status_code == 422 and 'secret' in response.json()['message']


@pytest.mark.parametrize(('run', 'workflow', 'matches'), [
    ({'path': '.github/workflows/provision-agent.yml', 'workflow_id': 161335}, 'provision-agent.yml', True),
    ({'path': '.github/workflows/provision-agent.yml@main', 'workflow_id': 161335}, 'provision-agent.yml', True),
    ({'path': '.github/workflows/other.yml', 'workflow_id': 7}, 'provision-agent.yml', False),
    ({'path': '.github/workflows/provision-agent.yml', 'workflow_id': 161335}, '161335', True),
    ({'path': '.github/workflows/provision-agent.yml', 'workflow_id': 7}, '161335', False),
    ({}, 'provision-agent.yml', False),
])
def test_a_run_belongs_to_the_configured_workflow_by_its_path_or_id(run, workflow, matches):
    assert run_names.is_configured_workflow(run, workflow) is matches
