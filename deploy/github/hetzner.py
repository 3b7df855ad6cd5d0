#!/usr/bin/env python3
"""Create or destroy an agent's Hetzner Cloud server, reporting each step to AgentHost (standard library only).

    python3 hetzner.py provision|deprovision

Idempotent: the server carries the label `agenthost-agent=<AGENT_ID>`, and every run looks it up by that label
first, so a retried or duplicated run reuses the server (provision) or finds it gone (deprovision).

Environment: AGENT_ID, REGION (a Hetzner location such as fsn1), SIZE (small, medium or large, mapped through
SERVER_TYPES), HCLOUD_TOKEN; for provision also AGENT_IMAGE (the container image to run) and optionally AGENT_PORT
(default 8080), HCLOUD_SSH_KEY (name of an SSH key in the project), SERVER_TYPES (JSON object, size → server
type) and HCLOUD_API_URL (another API base, for tests). Reports go through report.py (CALLBACK_URL, …).
"""
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report

DEFAULT_SERVER_TYPES = {'small': 'cx22', 'medium': 'cx32', 'large': 'cx42'}
LABEL = 'agenthost-agent'
IMAGE = 'ubuntu-24.04'


class ProviderError(Exception):
    pass


class Hetzner:
    def __init__(self, token: str, base: str) -> None:
        self.token = token
        self.base = base.rstrip('/')

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f'{self.base}{path}', data=data, method=method, headers={
            'Authorization': f'Bearer {self.token}', 'Content-Type': 'application/json'})
        for attempt in range(1, 6):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    text = response.read().decode()
                    return json.loads(text) if text else {}
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors='replace')[:500]
                if error.code not in (429, 500, 502, 503, 504) or attempt == 5:
                    raise ProviderError(f'Hetzner answered {error.code} to {method} {path}: {detail}') from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                if attempt == 5:
                    raise ProviderError(f'Hetzner unreachable for {method} {path}: {error}') from None
            time.sleep(2 ** attempt)
        raise AssertionError('unreachable')

    def find(self, agent_id: str) -> dict | None:
        servers = self.call('GET', f'/servers?label_selector={LABEL}%3D{agent_id}').get('servers', [])
        return servers[0] if servers else None


def cloud_init(image: str, port: int, agent_id: str) -> str:
    """Start the agent's container at boot, restarted by Docker whenever it stops."""
    return '\n'.join([
        '#cloud-config',
        'package_update: true',
        'packages: [docker.io]',
        'runcmd:',
        '  - systemctl enable --now docker',
        f'  - docker run -d --restart unless-stopped --name agenthost-agent -p {port}:{port} '
        f'-e PORT={port} -e AGENTHOST_AGENT_ID={agent_id} {image}',
    ]) + '\n'


def ipv4(server: dict) -> str:
    return ((server.get('public_net') or {}).get('ipv4') or {}).get('ip') or ''


def wait_for(predicate, what: str, timeout: float, pause: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(pause)
    raise ProviderError(f'gave up waiting {timeout:.0f} s for {what}')


def port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=5):
            return True
    except OSError:
        return False


def provision(cloud: Hetzner, env: dict[str, str], say) -> None:
    agent_id, port = env['AGENT_ID'], int(env.get('AGENT_PORT') or 8080)
    image = env.get('AGENT_IMAGE', '')
    if not image:
        raise ProviderError('AGENT_IMAGE is not set: add it as a variable of the infrastructure repository')
    types = json.loads(env['SERVER_TYPES']) if env.get('SERVER_TYPES') else DEFAULT_SERVER_TYPES
    if env['SIZE'] not in types:
        raise ProviderError(f'unknown size {env["SIZE"]!r}; SERVER_TYPES knows {", ".join(types)}')
    pause = float(env.get('POLL_SECONDS') or 5)
    server = cloud.find(agent_id)
    if server is None:
        body = {'name': f'agenthost-agent-{agent_id}', 'server_type': types[env['SIZE']], 'image': IMAGE,
                'location': env['REGION'], 'labels': {LABEL: agent_id, 'managed-by': 'agenthost'},
                'user_data': cloud_init(image, port, agent_id),
                'public_net': {'enable_ipv4': True, 'enable_ipv6': True}}
        if env.get('HCLOUD_SSH_KEY'):
            body['ssh_keys'] = [env['HCLOUD_SSH_KEY']]
        server = cloud.call('POST', '/servers', body)['server']
        found = 'created'
    else:
        found = 'found (created by an earlier run)'
    server_id = str(server['id'])
    say('progress', 'server_created', f'Server {server_id} {found} in {env["REGION"]}', ipv4(server), server_id)
    server = wait_for(lambda: (s := cloud.call('GET', f'/servers/{server_id}')['server'])['status'] == 'running'
                      and s, f'server {server_id} to run', timeout=600, pause=pause)
    address = ipv4(server)
    say('progress', 'agent_starting', f'Server {server_id} is running at {address}; starting {image}', address,
        server_id)
    wait_for(lambda: port_open(address, port), f'the agent to answer on {address}:{port}', timeout=900, pause=pause)
    say('succeeded', 'running', f'The agent answers on {address}:{port}', address, server_id)


def deprovision(cloud: Hetzner, env: dict[str, str], say) -> None:
    agent_id = env['AGENT_ID']
    pause = float(env.get('POLL_SECONDS') or 5)
    server = cloud.find(agent_id)
    if server is None:
        say('progress', 'server_deleted', f'No server is labelled {LABEL}={agent_id}; nothing to delete', '', '')
    else:
        server_id = str(server['id'])
        cloud.call('DELETE', f'/servers/{server_id}')
        wait_for(lambda: cloud.find(agent_id) is None, f'server {server_id} to be gone', timeout=600, pause=pause)
        say('progress', 'server_deleted', f'Server {server_id} deleted', '', server_id)
    say('succeeded', '', 'The server is gone', '', '')


def main(argv: list[str], env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    action = argv[0] if argv else ''
    if action not in ('provision', 'deprovision'):
        print('usage: hetzner.py provision|deprovision', file=sys.stderr)
        return 2

    def say(status: str, step: str, message: str, ip_address: str, server_id: str) -> None:
        print(f'{status} {step}: {message}')
        args = ['--status', status, '--step', step, '--message', message]
        args += ['--ip-address', ip_address] if ip_address else []
        args += ['--server-id', server_id] if server_id else []
        if report.main(args, env) != 0:
            raise ProviderError('AgentHost did not accept the report; see the lines above')

    try:
        missing = [name for name in ('AGENT_ID', 'REGION', 'SIZE', 'HCLOUD_TOKEN') if not env.get(name)]
        if missing:
            raise ProviderError(f'set {", ".join(missing)}: HCLOUD_TOKEN is a secret of the infrastructure '
                                'repository, the others come from the workflow inputs')
        if not re.fullmatch(r'\d+', env['AGENT_ID']) or not re.fullmatch(r'[a-z0-9-]+', env['REGION']):
            raise ProviderError('AGENT_ID must be a number and REGION a Hetzner location such as fsn1')
        cloud = Hetzner(env['HCLOUD_TOKEN'], env.get('HCLOUD_API_URL') or 'https://api.hetzner.cloud/v1')
        (provision if action == 'provision' else deprovision)(cloud, env, say)
    except ProviderError as error:
        print(f'error: {error}', file=sys.stderr)
        with_step = 'server_created' if action == 'provision' else 'server_deleted'
        report.main(['--status', 'failed', '--step', with_step, '--message', str(error)], env)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
