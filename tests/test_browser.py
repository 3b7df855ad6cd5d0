"""The whole first visit in a real browser: sign up, walk the wizard, land on the new agent's page.

Runs `python main.py` in a subprocess (tests/live_server.py) and drives the system Chromium. NiceGUI's `.mark()`
markers exist only on the server (for the simulated `user` fixture), so the browser finds elements the way a
person does: inputs by their label (Quasar puts it into `aria-label`), buttons and badges by their text.

With AGENTHOST_SCREENSHOTS=<folder> the test also saves wizard.png, agents.png and agent_detail.png there
(`make screenshots` refreshes docs/screenshots/).
"""
import os
import re
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

import models
from tests.live_server import browser, live_server, log_tail  # noqa: F401

pytestmark = pytest.mark.browser

TIMEOUT = 10.0
EMAIL = 'new.user@example.com'
PASSWORD = 'correct horse battery'
NAME = 'Support bot'
SYSTEM_PROMPT = 'You answer questions about our product politely and briefly.'


def xpath_literal(text: str) -> str:
    return f'"{text}"' if '"' not in text else "concat('" + text.replace("'", "', \"'\", '") + "')"


class Page:
    """The browser plus explicit waits whose failures say what was expected, where, and what the server logged."""

    def __init__(self, driver: WebDriver, base_url: str, tmp_path: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.tmp_path = tmp_path

    def wait(self, condition, expected: str, timeout: float = TIMEOUT):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)) \
                .until(lambda _: condition())
        except TimeoutException:
            pass
        failure_shot = self.tmp_path / 'failure.png'
        self.driver.save_screenshot(str(failure_shot))
        body = self.driver.find_element(By.TAG_NAME, 'body').text
        pytest.fail(f'waited {timeout:.0f} s for {expected}\nat {self.driver.current_url}, screenshot '
                    f'{failure_shot}\npage text:\n{body}\n\nserver output:\n'
                    f'{log_tail(self.tmp_path / "server.log")}', pytrace=False)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        self.wait_until_connected()

    def wait_for_path(self, pattern: str) -> re.Match:
        match = self.wait(lambda: re.fullmatch(pattern, self.path), f'the address to become {pattern}')
        self.wait_until_connected()
        return match

    def wait_until_connected(self) -> None:
        """NiceGUI pages are live once the websocket handshake is done; before that nothing reaches the server."""
        self.wait(lambda: self.driver.execute_script('return window.did_handshake === true'),
                  'the NiceGUI websocket handshake')

    def visible(self, by: str, selector: str) -> WebElement | None:
        return next((element for element in self.driver.find_elements(by, selector) if element.is_displayed()), None)

    def field(self, label: str) -> WebElement:
        """The visible input or textarea labelled `label`."""
        selector = f'input[aria-label="{label}"], textarea[aria-label="{label}"]'
        return self.wait(lambda: self.visible(By.CSS_SELECTOR, selector), f'a visible field labelled "{label}"')

    def field_is_gone(self, label: str) -> bool:
        return self.visible(By.CSS_SELECTOR, f'input[aria-label="{label}"], textarea[aria-label="{label}"]') is None

    def field_message(self, label: str) -> str:
        """The validation message (or hint) Quasar shows under the field labelled `label`."""
        field = self.field(label)
        return field.find_element(By.XPATH, './ancestor::label[contains(@class, "q-field")]') \
            .find_element(By.CSS_SELECTOR, '.q-field__messages').text

    def type_into(self, label: str, text: str) -> None:
        field = self.field(label)
        field.click()
        field.send_keys(text)
        self.wait(lambda: self.field(label).get_attribute('value') == text, f'"{label}" to hold {text!r}')

    def button(self, text: str) -> WebElement:
        xpath = f'//button[.//*[normalize-space(text())={xpath_literal(text)}]]'  # Quasar: icon + span label
        return self.wait(lambda: (button := self.visible(By.XPATH, xpath)) and button.is_enabled() and button,
                         f'a visible, enabled "{text}" button')

    def click(self, text: str) -> None:
        self.button(text).click()

    def text_element(self, text: str, css: str = '*') -> WebElement:
        """A visible element of `css` whose own text is exactly `text`."""
        def find() -> WebElement | None:
            for element in self.driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and element.text.strip() == text:
                    return element
            return None
        return self.wait(find, f'visible text {text!r} in {css}')

    def shows_text(self, text: str) -> None:
        self.wait(lambda: text in self.driver.find_element(By.TAG_NAME, 'body').text, f'the page to show {text!r}')

    def active_step(self) -> str:
        title = self.visible(By.CSS_SELECTOR, '.q-stepper__tab--active .q-stepper__title')
        return title.text if title else ''

    def wait_for_step(self, title: str) -> None:
        self.wait(lambda: self.active_step() == title, f'the wizard step "{title}"')
        self.wait_until_still()

    def wait_until_still(self) -> None:
        """Quasar slides steps in and out; wait for the animations to end (for clicks and screenshots)."""
        self.wait(lambda: self.driver.execute_script(
            'return document.getAnimations().every(a => a.playState !== "running")'
            " && !document.querySelector('[class*=\"-enter-active\"], [class*=\"-leave-active\"]')"),
            'the page to stop moving')

    def screenshot(self, name: str) -> None:
        folder = os.environ.get('AGENTHOST_SCREENSHOTS')
        if not folder:
            return
        self.driver.execute_script('document.activeElement && document.activeElement.blur()')  # no caret
        self.wait_until_still()
        Path(folder).mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(Path(folder) / name)), f'could not save {name}'


@pytest.fixture
def page(live_server: str, browser: WebDriver, tmp_path: Path) -> Page:
    return Page(browser, live_server, tmp_path)


def test_new_user_signs_up_walks_the_wizard_and_lands_on_the_agent_page(page: Page) -> None:
    page.open('/signup')
    page.type_into('Email', EMAIL)
    page.type_into('Password', PASSWORD)
    page.click('Sign up')

    page.wait_for_path('/')
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
    page.type_into('Email', EMAIL)
    page.type_into('Password', PASSWORD)
    page.click('Sign up')
    page.wait_for_path('/')
    page.shows_text('No agents yet')
    assert page.driver.get_cookie('session')['value'] != anonymous_cookie

    page.click('Log out')  # a form that POSTs to /logout from this site
    page.wait_for_path('/login')
    page.driver.get(page.base_url + '/settings')
    page.wait_for_path(r'/login\?redirect_to=/settings')
