"""Fixtures and helpers for provisioning tests: the GitHub double wired into the settings, signed callbacks, waits.

Import the fixture into a test module (`from tests.provisioning_support import github  # noqa: F401`) and list it
before `user`, so main.py (which the `user` fixture runs) reads the double's address from the environment.
"""
import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from nicegui import background_tasks
from nicegui.testing import User

from models import Agent, ProvisioningJob
from models import User as Account
from services.platform.settings import Settings, configure
from services.provisioning import callbacks
from services.provisioning import github as github_service
from services.provisioning.scheduler import dispatcher
from tests.factories import make_agent, make_entitled_user, make_token
from tests.github_double import REPOSITORY, GitHubDouble

TOKEN = 'ghp_test_token'
CALLBACK_SECRET = 'callback-secret-for-tests'
WEBHOOK_SECRET = 'github-webhook-secret'


def provisioning_environment(api_url: str) -> dict[str, str]:
    """Settings that point the app at the double, with back-off in milliseconds so retries are quick."""
    return {'GITHUB_TOKEN': TOKEN, 'GITHUB_REPOSITORY': REPOSITORY, 'GITHUB_API_URL': api_url,
            'CALLBACK_SECRET': CALLBACK_SECRET, 'GITHUB_WEBHOOK_SECRET': WEBHOOK_SECRET,
            'GITHUB_RETRY_BASE_SECONDS': '0.01', 'GITHUB_RETRY_MAX_SECONDS': '0.05',
            'GITHUB_TIMEOUT_SECONDS': '0.5'}


@pytest.fixture
def github(isolated_environment, monkeypatch) -> Iterator[GitHubDouble]:  # noqa: ARG001  (orders the env first)
    double = GitHubDouble(webhook_secret=WEBHOOK_SECRET)
    for name, value in provisioning_environment(double.url).items():
        monkeypatch.setenv(name, value)
    configure(Settings())
    github_service._without_run_details.clear()
    try:
        yield double
    finally:
        double.close()
        github_service.close_clients()


def signed_callback(job_id: int, status: str, *, secret: str = CALLBACK_SECRET, timestamp: int | None = None,
                    **fields) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({'job_id': job_id, 'status': status, **fields}).encode()
    return body, {'X-AgentHost-Signature': callbacks.sign(body, secret, timestamp),
                  'Content-Type': 'application/json'}


async def eventually(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> object:
    """Wait (letting the app's loop run) until `predicate()` is truthy; fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f'waited {timeout:.0f} s for {what}', pytrace=False)
        await asyncio.sleep(0.02)


async def dispatcher_idle() -> None:
    """Wait until the dispatcher has finished all it was asked to do: no pass and no job under way."""
    def idle() -> bool:
        return not dispatcher.passes.running and not any(
            task.get_name().startswith('provisioning') and not task.done() for task in background_tasks.running_tasks)
    await eventually(idle, 'the dispatcher to finish its work')


def job_of(agent: Agent) -> ProvisioningJob:
    return ProvisioningJob.select().where(ProvisioningJob.agent == agent.id).order_by(ProvisioningJob.id.desc()) \
        .get()


def make_silent(job_id: int, minutes: int) -> None:
    """Pretend the job heard nothing for `minutes` (instead of waiting for PROVISION_TIMEOUT_MINUTES)."""
    job = ProvisioningJob.get_by_id(job_id)
    ProvisioningJob.update(last_news_at=job.last_news_at - timedelta(minutes=minutes)) \
        .where(ProvisioningJob.id == job_id).execute()


def reload(row):
    return type(row).get_by_id(row.id)


@pytest.fixture
def owner() -> Account:
    """An account entitled to deploy (a complimentary pro plan: 3 agents)."""
    return make_entitled_user('owner@example.com')


@pytest.fixture
def headers(owner: Account) -> dict[str, str]:
    return make_token(owner)


async def wait_dispatched(job_id: int) -> ProvisioningJob:
    """The job once it has left queued and dispatching (dispatched, or failed)."""
    return await eventually(lambda: (job := ProvisioningJob.get_by_id(job_id)).status not in ('queued', 'dispatching')
                            and job, f'job {job_id} to leave queued and dispatching')


async def deploy(user: User, agent: Agent, headers: dict[str, str], **extra: str) -> dict:
    response = await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers={**headers, **extra})
    assert response.status_code == 202, response.text
    return response.json()['job']


@pytest.fixture
async def dispatched_job(github: GitHubDouble, user: User, owner: Account, headers) -> ProvisioningJob:  # noqa: ARG001
    """A deploy that GitHub accepted, waiting for the workflow's reports."""
    job = await wait_dispatched((await deploy(user, make_agent(owner), headers))['id'])
    assert job.status == 'dispatched', job.last_error
    return job


async def post_report(user: User, job_id: int, status: str, **fields):
    """A signed callback as the workflow sends it; returns the response."""
    body, headers = signed_callback(job_id, status, **fields)
    return await user.http_client.post('/api/provisioning/callback', content=body, headers=headers)
