"""The runtime end to end in a real browser: deploy an agent on this machine, chat with it, change its prompt while
it runs, and revoke a key — `python main.py` with PROVISIONER=local, the agent's runtime as its child, a model
provider double, and the system Chromium.

With AGENTHOST_SCREENSHOTS=<folder> the test saves chat.png there (`make screenshots`).
"""

import openai
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from models import Agent
from tests.browser_support import Page, browser, live_server, page  # noqa: F401
from tests.factories import PASSWORD, make_agent, make_entitled_user
from tests.live_server import log_tail
from tests.model_provider_double import ModelProviderDouble, provider  # noqa: F401

pytestmark = pytest.mark.browser

EMAIL = 'chat.user@example.com'
RUNTIME_TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def agents_run_here(isolated_environment, monkeypatch, provider: ModelProviderDouble) -> None:  # noqa: ARG001
    """Before the app starts: agents run on this machine and answer with the provider double."""
    monkeypatch.setenv('PROVISIONER', 'local')
    monkeypatch.setenv('OPENAI_BASE_URL', provider.openai_url)
    monkeypatch.setenv('AGENT_HEARTBEAT_SECONDS', '0.5')


def log_in(page: Page) -> None:
    page.open('/login')
    page.enter_account(EMAIL, PASSWORD, 'Log in')


def chat(page: Page, text: str, expected: str) -> None:
    page.type_into('Message', text)
    page.field('Message').send_keys('\n')
    page.wait(lambda: expected in page.driver.find_element(By.TAG_NAME, 'body').text,
              f'the answer {expected!r} in the chat', timeout=RUNTIME_TIMEOUT)


def wait_applied(page: Page, revision: int) -> None:
    page.wait(lambda: f'Revision {revision} applied' in page.driver.find_element(By.TAG_NAME, 'body').text,
              f'revision {revision} applied', timeout=RUNTIME_TIMEOUT)


def ask_endpoint(agent_id: int, key: str) -> str:
    endpoint = Agent.get_by_id(agent_id).endpoint_url
    with openai.OpenAI(base_url=f'{endpoint}/v1', api_key=key, max_retries=0, timeout=30) as client:
        answer = client.chat.completions.create(model='any', messages=[{'role': 'user', 'content': 'Ping'}])
    return answer.choices[0].message.content


def test_deploy_locally_chat_edit_the_prompt_live_and_revoke_a_key(page: Page, provider: ModelProviderDouble):
    owner = make_entitled_user(EMAIL)
    agent = make_agent(owner, name='Otto', model='gpt-4.1', system_prompt='You are Otto.')
    log_in(page)
    page.open(f'/agents/{agent.id}')
    page.click('Deploy')
    page.text_element('running', '.q-badge')
    wait_applied(page, 1)

    chat(page, 'Hello', 'model=gpt-4.1 system=You are Otto. user=Hello')
    assert provider.requests[-1].body['stream'] is True  # the panel streams the answer
    page.screenshot('chat.png')

    page.click('Edit')
    prompt = page.field('System prompt')
    prompt.send_keys(Keys.CONTROL, 'a')  # Vue does not see Selenium's clear()
    prompt.send_keys(Keys.DELETE, 'You are Anna.')
    page.click('Save')
    wait_applied(page, 2)
    chat(page, 'And now?', 'system=You are Anna. user=And now?')

    page.type_into('Name of a new key', 'e2e')
    page.click('Create key')
    key = page.wait(lambda: next((element.text for element in page.driver.find_elements(By.CSS_SELECTOR, '.font-mono')
                                  if element.is_displayed() and element.text.startswith('ah_')), None),
                    'the new key, shown once')
    page.click('Done')
    wait_applied(page, 3)
    assert 'system=You are Anna.' in ask_endpoint(agent.id, key)

    page.click('Revoke')
    wait_applied(page, 4)
    with pytest.raises(openai.AuthenticationError):
        ask_endpoint(agent.id, key)

    console_errors = [entry['message'] for entry in page.driver.get_log('browser') if entry['level'] == 'SEVERE']
    assert not console_errors, f'the browser console reported errors: {console_errors}'
    server_output = log_tail(page.tmp_path / 'server.log', lines=200)
    assert 'Traceback' not in server_output, server_output
