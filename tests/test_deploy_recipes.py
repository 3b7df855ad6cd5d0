import configparser
import contextlib
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from services.platform.settings import Settings
from tests.live_server import free_port

DEPLOY = Path(__file__).parent.parent / 'deploy'


def test_the_env_example_lists_every_setting():
    listed = set(re.findall(r'^#? ?([A-Z_]+)=', (DEPLOY / 'agenthost.env.example').read_text(), flags=re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= listed


def test_the_env_example_is_a_configuration_the_app_accepts():
    settings = Settings(_env_file=DEPLOY / 'agenthost.env.example')
    assert settings.public_url.startswith('https://') and settings.host == '127.0.0.1'


def test_the_systemd_unit_runs_the_binary_as_its_own_user_and_restarts_on_failure():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / 'systemd' / 'agenthost.service').read_text())
    service = unit['Service']
    assert service['User'] == 'agenthost' and service['Restart'] == 'on-failure'
    assert service['EnvironmentFile'] == '/etc/agenthost/agenthost.env'
    assert service['ExecStart'].endswith('serve --data-dir /var/lib/agenthost')
    assert service['NoNewPrivileges'] == 'yes' and service['ProtectSystem'] == 'strict'


def test_caddy_proxies_to_the_default_address_of_the_app():
    caddyfile = (DEPLOY / 'caddy' / 'Caddyfile').read_text()
    defaults = Settings(_env_file=None)
    assert f'reverse_proxy {defaults.host}:{defaults.port}' in caddyfile


@contextlib.contextmanager
def upstream_server() -> Iterator[str]:
    """A stand-in for the app: answers 200 with its path, and names itself in `X-Upstream`."""
    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f'app saw {self.path}'.encode()
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.send_header('X-Upstream', str(self.server.server_address[1]))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f'127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def upstream() -> Iterator[str]:
    with upstream_server() as address:
        yield address


def running_caddy(recipe: str, tmp_path: Path) -> subprocess.Popen:
    if not shutil.which('caddy'):
        pytest.fail('caddy is missing: apt-get install caddy (.ci/run installs it)')
    (tmp_path / 'Caddyfile').write_text(recipe.replace('/var/log/caddy/agenthost-access.log', str(tmp_path / 'a.log'))
                                        .replace('email ops@example.com', 'email ops@example.com\n\tadmin off'))
    return subprocess.Popen(['caddy', 'run', '--config', str(tmp_path / 'Caddyfile'), '--adapter', 'caddyfile'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_caddy_keeps_metrics_off_the_internet_and_proxies_the_rest(upstream: str, tmp_path: Path):
    port = free_port()
    caddy = running_caddy((DEPLOY / 'caddy' / 'Caddyfile').read_text()
                          .replace('agents.example.com {', f'http://127.0.0.1:{port} {{')
                          .replace('127.0.0.1:8080', upstream), tmp_path)
    try:
        with httpx.Client(base_url=f'http://127.0.0.1:{port}', timeout=2) as client:
            healthz = wait_for_answer(client, '/healthz', caddy)
            assert healthz.status_code == 200 and healthz.text == 'app saw /healthz'
            for path in ('/metrics', '/metrics?format=x', '/metrics/'):
                response = client.get(path)
                assert response.status_code == 404 and 'app saw' not in response.text, path
    finally:
        caddy.terminate()
        caddy.wait(timeout=10)


def test_the_instances_recipe_keeps_a_browser_with_its_instance_and_spreads_the_rest(tmp_path: Path):
    port = free_port()
    with ExitStack() as stack:
        upstreams = [stack.enter_context(upstream_server()) for _ in range(3)]
        caddy = running_caddy((DEPLOY / 'caddy' / 'Caddyfile.instances').read_text()
                              .replace('agents.example.com {', f'http://127.0.0.1:{port} {{')
                              .replace('10.0.0.11:8080 10.0.0.12:8080 10.0.0.13:8080', ' '.join(upstreams)), tmp_path)
        stack.callback(caddy.wait, timeout=10)
        stack.callback(caddy.terminate)
        with httpx.Client(base_url=f'http://127.0.0.1:{port}', timeout=10) as browser:
            chosen = wait_for_answer(browser, '/', caddy).headers['X-Upstream']
            assert 'agenthost_instance' in browser.cookies
            assert {browser.get('/').headers['X-Upstream'] for _ in range(10)} == {chosen}
            cookieless = {httpx.get(f'http://127.0.0.1:{port}/healthz', timeout=10).headers['X-Upstream']
                          for _ in range(30)}  # webhooks, callbacks, runtimes: any instance
            assert len(cookieless) > 1
def wait_for_answer(client: httpx.Client, path: str, caddy: subprocess.Popen) -> httpx.Response:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert caddy.poll() is None, 'caddy exited: the recipe does not load'
        with contextlib.suppress(httpx.TransportError):
            return client.get(path)
        time.sleep(0.1)  # bounded by the deadline: waiting for caddy to listen
    pytest.fail('caddy did not answer within 20 s')

