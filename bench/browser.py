"""Headless system Chromium for the rows a person feels in the browser."""
import tempfile
import time
from contextlib import contextmanager
from collections.abc import Iterator

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
         '--no-first-run', '--disable-component-update', '--disable-sync', '--window-size=1280,900')


@contextmanager
def chromium() -> Iterator[WebDriver]:
    with tempfile.TemporaryDirectory(prefix='agenthost-bench-chromium-') as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = '/usr/bin/chromium'
        for flag in (*FLAGS, f'--user-data-dir={profile}'):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path='/usr/bin/chromedriver'), options=options)
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
