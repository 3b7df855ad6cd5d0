"""Every response carries the usual security headers; the pages still work in a real browser under the policy."""
import httpx
import pytest
from nicegui.testing import User
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from services.platform.settings import Settings, configure
from tests.live_server import browser, live_server  # noqa: F401

EXPECTED = {'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY',
            'referrer-policy': 'strict-origin-when-cross-origin'}


def assert_security_headers(response: httpx.Response) -> None:
    assert {name: response.headers.get(name) for name in EXPECTED} == EXPECTED
    assert "frame-ancestors 'none'" in response.headers['content-security-policy']


@pytest.mark.parametrize('path', ['/login', '/api/agents', '/healthz', '/metrics', '/no-such-page'])
async def test_every_kind_of_response_carries_the_security_headers(user: User, path: str):
    assert_security_headers(await user.http_client.get(path))


async def test_a_direct_endpoints_answer_carries_the_security_headers(user: User):
    response = await user.http_client.post('/api/runtime/heartbeat', json={}, headers={'Authorization': 'Bearer rt_x'})
    assert response.status_code == 422
    assert_security_headers(response)


async def test_no_hsts_while_public_url_is_plain_http(user: User):
    assert 'strict-transport-security' not in (await user.http_client.get('/login')).headers


async def test_hsts_when_public_url_is_https(user: User, monkeypatch):
    monkeypatch.setenv('PUBLIC_URL', 'https://agents.example.com')
    configure(Settings())
    for path in ('/login', '/healthz'):
        assert (await user.http_client.get(path)).headers['strict-transport-security'].startswith('max-age=')


@pytest.mark.browser
def test_pages_work_under_the_policy_without_violations(live_server: str, browser: WebDriver):
    browser.get(f'{live_server}/signup')
    WebDriverWait(browser, 20).until(lambda d: d.execute_script('return window.did_handshake === true'))
    assert httpx.get(f'{live_server}/signup').headers['content-security-policy']
    violations = [entry['message'] for entry in browser.get_log('browser') if 'Content Security Policy' in
                  entry['message'] or entry['level'] == 'SEVERE']
    assert violations == []
