"""Real Chromium: a callback from outside changes the open agent page, without a reload.

The app runs as `python main.py` (tests/live_server.py) against the GitHub double; the browser logs in, presses
Deploy, and then the test, playing the workflow, posts signed callbacks. A marker set in the page's JavaScript
before the callbacks must survive them: had the page reloaded, it would be gone.
"""
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from models import ProvisioningJob
from tests.factories import PASSWORD, make_agent, make_entitled_user
from tests.github_double import GitHubDouble
from tests.live_server import browser, live_server, log_tail  # noqa: F401
from tests.provisioning_support import github, signed_callback  # noqa: F401

pytestmark = pytest.mark.browser


def wait(driver: WebDriver, condition, expected: str, tmp_path: Path, timeout: float = 10.0):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda _: condition())
    except TimeoutException:
        pass
    driver.save_screenshot(str(tmp_path / 'failure.png'))
    pytest.fail(f'waited {timeout:.0f} s for {expected}\npage text:\n{driver.find_element(By.TAG_NAME, "body").text}'
                f'\n\nserver output:\n{log_tail(tmp_path / "server.log")}', pytrace=False)


def body_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, 'body').text


def test_an_outside_callback_updates_the_open_agent_page_without_reload(github: GitHubDouble,
                                                                         live_server: str,
                                                                         browser: WebDriver,
                                                                         tmp_path: Path):
    owner = make_entitled_user('browser@example.com')
    agent = make_agent(owner, name='Live bot')
    driver = browser

    driver.get(f'{live_server}/login')
    wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Email"]'), 'the login form',
         tmp_path)
    driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Email"]').send_keys('browser@example.com')
    driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys(PASSWORD + '\n')
    wait(driver, lambda: 'Live bot' in body_text(driver), 'the agents page after login', tmp_path)

    driver.get(f'{live_server}/agents/{agent.id}')
    wait(driver, lambda: driver.execute_script('return window.did_handshake === true'), 'the websocket', tmp_path)
    deploy = wait(driver, lambda: next(iter(driver.find_elements(By.XPATH, '//button[.//*[normalize-space(text())'
                                                                  '="Deploy"]]')), None), 'the Deploy button', tmp_path)
    deploy.click()
    job = wait(driver, lambda: ProvisioningJob.get_or_none((ProvisioningJob.agent == agent.id)
                                                          & (ProvisioningJob.status == 'dispatched')),
               'the dispatch', tmp_path)
    wait(driver, lambda: 'Workflow run' in body_text(driver), 'the run link after the dispatch', tmp_path)

    driver.execute_script('window.agenthostNoReload = true')
    with httpx.Client(base_url=live_server, timeout=10) as client:
        for status, fields in (('progress', {'step': 'server_created', 'message': 'Server 42 created',
                                             'ip_address': '203.0.113.7', 'server_id': '42'}),
                               ('succeeded', {'step': 'running', 'message': 'The agent answers on port 8080'})):
            body, headers = signed_callback(job.id, status, **fields)
            assert client.post('/api/provisioning/callback', content=body, headers=headers).status_code == 200
            expected = 'Server 42 created' if status == 'progress' else 'The agent answers on port 8080'
            wait(driver, lambda text=expected: text in body_text(driver), f'"{expected}" on the page', tmp_path)

    wait(driver, lambda: any(badge.text.strip() == 'running' for badge in
                             driver.find_elements(By.CSS_SELECTOR, '.q-badge')), 'the running badge', tmp_path)
    assert 'IP address 203.0.113.7' in body_text(driver)
    assert driver.execute_script('return window.agenthostNoReload === true'), 'the page reloaded'
    console_errors = [entry['message'] for entry in driver.get_log('browser') if entry['level'] == 'SEVERE']
    assert not console_errors, console_errors
    output = log_tail(tmp_path / 'server.log', lines=300)
    assert 'Traceback' not in output and 'ERROR' not in output, output
