"""More than one instance on PostgreSQL: a change made through one instance reaches a browser on another, without a
reload (LISTEN/NOTIFY). Runs in both suites on a PostgreSQL database of its own, since the point is PostgreSQL."""
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from services.platform.settings import Settings, configure
from tests.browser_support import Page
from tests.factories import PASSWORD, make_agent, make_entitled_user, make_token
from tests.github_double import GitHubDouble
from tests.live_server import app_process, browser  # noqa: F401
from tests.postgres_support import shared_database  # noqa: F401
from tests.provisioning_support import provisioning_environment


def wait_for(condition: Callable[[], object], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'waited {timeout:.0f} s for {what}'
        time.sleep(0.05)  # bounded by the deadline

@pytest.fixture
def instances(shared_database: str, tmp_path: Path) -> Iterator[list[str]]:  # noqa: ARG001
    with ExitStack() as stack:
        yield [stack.enter_context(app_process(tmp_path / f'instance-{number}.log'))[0] for number in range(2)]


@pytest.mark.browser
def test_a_change_through_one_instance_reaches_a_browser_on_another(instances: list[str], browser: WebDriver,
                                                                    tmp_path: Path):
    first, second = instances
    owner = make_entitled_user('instances@example.com')
    agent = make_agent(owner, name='Shared bot')
    page = Page(browser, second, tmp_path)
    page.open('/login')
    page.enter_account('instances@example.com', PASSWORD, 'Log in')
    page.shows_text('Shared bot')
    page.wait_until_connected()

    answer = httpx.patch(f'{first}/api/agents/{agent.id}', json={'name': 'Renamed elsewhere'},
                         headers=make_token(owner), timeout=10)
    assert answer.status_code == 200, answer.text
    page.shows_text('Renamed elsewhere')


@pytest.fixture
def github_for_all(shared_database: str, monkeypatch) -> Iterator[GitHubDouble]:  # noqa: ARG001  (orders the env)
    double = GitHubDouble(webhook_secret='github-webhook-secret')
    for name, value in provisioning_environment(double.url).items():
        monkeypatch.setenv(name, value)
    configure(Settings())
    try:
        yield double
    finally:
        double.close()


def deploy_somewhere(urls: list[str], number: int, agent_id: int, headers: dict[str, str]) -> int:
    """Deploy through instance `number` (round robin), or through the next one when that one is gone, as a client
    behind the proxy would be sent elsewhere; answers the job id."""
    for attempt in range(len(urls)):
        url = urls[(number + attempt) % len(urls)]
        try:
            answer = httpx.post(f'{url}/api/agents/{agent_id}/deploy', headers=headers, timeout=10)
        except httpx.TransportError:
            continue
        assert answer.status_code == 202, answer.text
        return answer.json()['job']['id']
    raise AssertionError('no instance answered')


def test_a_burst_over_three_instances_dispatches_every_job_once_even_when_one_is_killed(
        github_for_all: GitHubDouble, tmp_path: Path):
    owners = [make_entitled_user(f'burst{number}@example.com', plan='business') for number in range(6)]
    targets = [(make_agent(owner, name=f'bot {number}').id, make_token(owner)) for owner in owners
               for number in range(10)]
    with ExitStack() as stack:
        started = [stack.enter_context(app_process(tmp_path / f'instance-{number}.log')) for number in range(3)]
        urls = [url for url, _ in started]
        with ThreadPoolExecutor(max_workers=12) as pool:
            first_half = list(pool.map(lambda item: deploy_somewhere(urls, item[0], *item[1]),
                                       enumerate(targets[:30])))
            started[2][1].kill()  # SIGKILL in the middle of the burst: whatever it had claimed is taken over
            second_half = list(pool.map(lambda item: deploy_somewhere(urls, item[0], *item[1]),
                                        enumerate(targets[30:])))
        job_ids = {str(job_id) for job_id in first_half + second_half}
        assert len(job_ids) == len(targets)

        def dispatched() -> list[str]:
            return [(d.body or {}).get('inputs', {}).get('job_id') for d in github_for_all.dispatches]

        wait_for(lambda: job_ids <= set(dispatched()), 'every job dispatched', timeout=60)
        assert sorted(dispatched()) == sorted(job_ids)  # each exactly once
