"""The whole first visit in a real browser: sign up, walk the wizard, land on the new agent's page.

Runs `python main.py` in a subprocess (tests/live_server.py) and drives the system Chromium. NiceGUI's `.mark()`
markers exist only on the server (for the simulated `user` fixture), so the browser finds elements the way a
person does: inputs by their label (Quasar puts it into `aria-label`), buttons and badges by their text.

With AGENTHOST_SCREENSHOTS=<folder> the test also saves wizard.png, agents.png and agent_detail.png there
(`make screenshots` refreshes docs/screenshots/).
"""

import pytest
from selenium.webdriver.common.by import By

import models
from tests.browser_support import Page, browser, live_server, page  # noqa: F401
from tests.live_server import log_tail

pytestmark = pytest.mark.browser

EMAIL = 'new.user@example.com'
PASSWORD = 'correct horse battery'
NAME = 'Support bot'
SYSTEM_PROMPT = 'You answer questions about our product politely and briefly.'


def test_new_user_signs_up_walks_the_wizard_and_lands_on_the_agent_page(page: Page) -> None:
    page.open('/signup')
    page.enter_account(EMAIL, PASSWORD, 'Sign up')
    page.shows_text('No agents yet')
    page.text_element(EMAIL, 'header div')  # the header shows who is signed in

    page.click('New agent')
    page.wait_for_path('/agents/new')
    page.wait_for_step('Basics')

    # Next with an empty name: the message appears under the field and the wizard stays on step 1
    assert page.field_message('Name') == ''
    page.click('Next')
    page.wait(lambda: page.field_message('Name') == 'Give the agent a name.',
              'the message "Give the agent a name." under Name')
    assert page.active_step() == 'Basics'
    assert page.field_is_gone('System prompt (optional)')

    page.type_into('Name', NAME)
    page.wait(lambda: 'Give the agent a name.' not in page.field_message('Name'), 'the message to go away')
    page.click('Next')
    page.wait_for_step('Model and prompt')
    assert page.field_is_gone('Name')
    page.type_into('System prompt (optional)', SYSTEM_PROMPT)
    page.screenshot('wizard.png')

    # Back keeps what was typed, in both directions
    page.click('Back')
    page.wait_for_step('Basics')
    page.wait(lambda: page.field('Name').get_attribute('value') == NAME, '"Name" to keep its text')
    page.click('Next')
    page.wait_for_step('Model and prompt')
    page.wait(lambda: page.field('System prompt (optional)').get_attribute('value') == SYSTEM_PROMPT,
              'the system prompt to keep its text')
    page.click('Next')

    page.wait_for_step('Region and size')  # keep the default region and size
    page.click('Next')

    page.wait_for_step('Review')
    page.text_element(NAME, '.q-stepper__step-inner div')
    page.text_element(SYSTEM_PROMPT, '.q-stepper__step-inner div')
    page.click('Create')

    agent_id = int(page.wait_for_path(r'/agents/(\d+)').group(1))
    page.text_element(NAME, '.text-2xl')  # the page title
    page.text_element('draft', '.q-badge')
    page.shows_text(SYSTEM_PROMPT)
    page.screenshot('agent_detail.png')

    agent = models.Agent.get_by_id(agent_id)
    assert (agent.name, agent.status, agent.system_prompt, agent.owner.email) == \
        (NAME, 'draft', SYSTEM_PROMPT, EMAIL)

    page.open('/')
    page.text_element(NAME, 'a')
    page.text_element('draft', '.q-badge')
    assert 'No agents yet' not in page.driver.find_element(By.TAG_NAME, 'body').text
    page.screenshot('agents.png')

    console_errors = [entry['message'] for entry in page.driver.get_log('browser') if entry['level'] == 'SEVERE']
    assert not console_errors, f'the browser console reported errors: {console_errors}'
    server_output = log_tail(page.tmp_path / 'server.log', lines=200)
    assert 'Traceback' not in server_output and 'ERROR' not in server_output, server_output


def test_the_log_out_button_ends_the_session_and_a_new_login_gets_a_new_session_cookie(page: Page) -> None:
    page.open('/signup')
    anonymous_cookie = page.driver.get_cookie('session')['value']
    page.enter_account(EMAIL, PASSWORD, 'Sign up')
    page.shows_text('No agents yet')
    assert page.driver.get_cookie('session')['value'] != anonymous_cookie

    page.click('Log out')  # a form that POSTs to /logout from this site
    page.wait_for_path('/login')
    page.driver.get(page.base_url + '/settings')
    page.wait_for_path(r'/login\?redirect_to=/settings')
