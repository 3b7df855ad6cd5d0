"""Driving the system Chromium like a person: explicit waits that say what was expected, fields by their label,
buttons by their text. NiceGUI's `.mark()` markers exist only on the server, so the browser cannot use them."""
import os
import re
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.live_server import browser, live_server, log_tail  # noqa: F401

TIMEOUT = 10.0


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

    def centred(self, element: WebElement) -> WebElement:
        """Scrolled to the middle of the window: at the top, the page's fixed header would take the click."""
        self.driver.execute_script('arguments[0].scrollIntoView({block: "center"})', element)
        return element

    def type_into(self, label: str, text: str) -> None:
        field = self.centred(self.field(label))
        field.click()
        field.send_keys(text)
        self.wait(lambda: self.field(label).get_attribute('value') == text, f'"{label}" to hold {text!r}')

    def enter_account(self, email: str, password: str, button: str) -> None:
        """Fills the open sign-up or log-in form, sends it with `button` and waits for the agents list."""
        self.type_into('Email', email)
        self.type_into('Password', password)
        self.click(button)
        self.wait_for_path('/')

    def button(self, text: str) -> WebElement:
        xpath = f'//button[.//*[normalize-space(text())={xpath_literal(text)}]]'  # Quasar: icon + span label
        return self.wait(lambda: (button := self.visible(By.XPATH, xpath)) and button.is_enabled() and button,
                         f'a visible, enabled "{text}" button')

    def click(self, text: str) -> None:
        self.centred(self.button(text)).click()

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
    """The app served by `python main.py`, in the system Chromium."""
    return Page(browser, live_server, tmp_path)
