"""Fixtures for real-browser tests: the app served by `python main.py` in a subprocess, and headless Chromium.

The server inherits the per-test `DATA_DIR` and `DATABASE_URL` that `isolated_environment` (conftest) puts into
os.environ, so it runs against the same fresh database as the test. Import the fixtures into a test module:

    from tests.live_server import browser, live_server  # noqa: F401
"""
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path('/usr/bin/chromium')
CHROMEDRIVER = Path('/usr/bin/chromedriver')
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

# Set by pytest or by NiceGUI's own test machinery: the first makes NiceGUI's ui.run() think it runs under pytest
# (it would then ignore PORT and read NICEGUI_SCREEN_TEST_PORT), the others would redirect storage or warn.
INHERITED_VARIABLES_TO_DROP = ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION', 'NICEGUI_STORAGE_PATH',
                               'NICEGUI_HOST', 'NICEGUI_PORT', 'NICEGUI_PROTOCOL', 'NICEGUI_SCREEN_TEST_PORT')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors='replace')
    except FileNotFoundError:
        return '(no server output)'
    return '\n'.join(text.splitlines()[-lines:]) or '(no server output)'


def server_environment(port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in INHERITED_VARIABLES_TO_DROP}
    env.update(PORT=str(port), HOST='127.0.0.1', PUBLIC_URL=f'http://127.0.0.1:{port}', PYTHONUNBUFFERED='1')
    return env


def wait_until_healthy(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_problem = 'no answer yet'
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f'the server exited with code {process.returncode} before answering /healthz; '
                            f'its output:\n{log_tail(log_path)}', pytrace=False)
            try:
                response = client.get(f'{base_url}/healthz')
                if response.status_code == 200:
                    return
                last_problem = f'HTTP {response.status_code}: {response.text[:200]}'
            except httpx.TransportError as error:
                last_problem = repr(error)
            time.sleep(0.2)  # bounded by the deadline
    pytest.fail(f'the server did not answer /healthz with 200 within {STARTUP_TIMEOUT:.0f} s ({last_problem}); '
                f'its output:\n{log_tail(log_path)}', pytrace=False)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def app_process(log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python main.py` on a free port with the test's DATA_DIR and database, its output appended to `log_path`;
    SIGTERM at the end, as an operator stops it."""
    port = free_port()
    base_url = f'http://127.0.0.1:{port}'
    with log_path.open('ab') as output:
        process = subprocess.Popen([sys.executable, 'main.py'], cwd=REPO_ROOT, env=server_environment(port),
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(process, base_url, log_path)
        yield base_url, process
    finally:
        stop(process)


@pytest.fixture
def live_server(isolated_environment, tmp_path: Path) -> Iterator[str]:  # noqa: ARG001  (orders the env first)
    """The base URL of the app served by `python main.py` on a free port; stopped after the test."""
    log_path = tmp_path / 'server.log'
    with app_process(log_path) as (base_url, process):
        yield base_url
        if process.poll() is not None:
            pytest.fail(f'the server died during the test (exit code {process.returncode}); its output:\n'
                        f'{log_tail(log_path)}', pytrace=False)


def missing_browser_message() -> str | None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return None
    return (f'browser tests need {" and ".join(missing)}: install Chromium and its driver '
            '(Debian/Ubuntu: apt-get install chromium chromium-driver)')


@pytest.fixture
def browser(tmp_path: Path):
    """Headless system Chromium driven by the system chromedriver; nothing is ever downloaded."""
    if problem := missing_browser_message():
        if os.environ.get('CI'):
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                     '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
                     '--window-size=1280,900', f'--user-data-dir={tmp_path / "chromium-profile"}'):
        options.add_argument(argument)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})  # the test reads the console
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / 'chromedriver.log'))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
