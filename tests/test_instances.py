"""More than one instance on PostgreSQL: a change made through one instance reaches a browser on another, without a
reload (LISTEN/NOTIFY). Runs in both suites on a PostgreSQL database of its own, since the point is PostgreSQL."""
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser_support import Page
from tests.factories import PASSWORD, make_agent, make_entitled_user, make_token
from tests.live_server import app_process, browser  # noqa: F401
from tests.postgres_support import shared_database  # noqa: F401

pytestmark = pytest.mark.browser

@pytest.fixture
def instances(shared_database: str, tmp_path: Path) -> Iterator[list[str]]:  # noqa: ARG001
    with ExitStack() as stack:
        yield [stack.enter_context(app_process(tmp_path / f'instance-{number}.log'))[0] for number in range(2)]


def test_a_change_through_one_instance_reaches_a_browser_on_another(instances: list[str], browser: WebDriver,
                                                                    tmp_path: Path):
    first, second = instances
    owner = make_entitled_user('instances@example.com')
    agent = make_agent(owner, name='Shared bot')
    page = Page(browser, second, tmp_path)
    page.open('/login')
    page.type_into('Email', 'instances@example.com')
    page.type_into('Password', PASSWORD)
    page.click('Log in')
    page.shows_text('Shared bot')
    page.wait_until_connected()

    answer = httpx.patch(f'{first}/api/agents/{agent.id}', json={'name': 'Renamed elsewhere'},
                         headers=make_token(owner), timeout=10)
    assert answer.status_code == 200, answer.text
    page.shows_text('Renamed elsewhere')
