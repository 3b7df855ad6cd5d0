"""Headless system Chromium for the rows a person feels in the browser."""
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path('/usr/bin/chromium')
CHROMEDRIVER = Path('/usr/bin/chromedriver')
FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
         '--no-first-run', '--disable-component-update', '--disable-sync', '--window-size=1280,900')


def missing_browser() -> str | None:
    """One line naming what the browser rows lack and how to get it, or None: checked before anything starts, so a
    machine without Chromium learns it at once instead of from a driver traceback minutes in."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not missing:
        return None
    return (f'make bench needs {" and ".join(missing)}: install them with `apt-get install chromium chromium-driver` '
            '(as root), then run make bench again.')


@contextmanager
def chromium() -> Iterator[WebDriver]:
    with tempfile.TemporaryDirectory(prefix='agenthost-bench-chromium-') as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f'--user-data-dir={profile}'):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for_handshake(driver: WebDriver) -> None:
    WebDriverWait(driver, 20).until(lambda d: d.execute_script('return window.did_handshake === true'))


def log_in(driver: WebDriver, base_url: str, email: str, password: str) -> None:
    driver.get(f'{base_url}/login')
    wait_for_handshake(driver)
    driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Email"]').send_keys(email)
    driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys(password, Keys.ENTER)
    WebDriverWait(driver, 20).until(lambda d: d.current_url.rstrip('/') == base_url)
    time.sleep(0.2)  # the session is stored; the next navigation carries it


def session_cookie(driver: WebDriver) -> str:
    return next(cookie['value'] for cookie in driver.get_cookies() if cookie['name'] == 'session')
