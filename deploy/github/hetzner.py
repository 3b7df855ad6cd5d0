#!/usr/bin/env python3
"""Create or destroy an agent's Hetzner Cloud server running AgentHost's runtime behind HTTPS, reporting each step
to AgentHost (standard library only).

    python3 hetzner.py provision|deprovision|cleanup

provision: a server labelled `agenthost-agent=<AGENT_ID>` that already exists (a retried run, or AgentHost healing an
agent that stopped answering) is reused: powered on when off, rebooted when its runtime is not ready within
READY_REUSE_SECONDS, replaced when it is still not ready after that. Otherwise the script first trades the job id
for a runtime token (report.bootstrap), then creates the server with a cloud-init that installs Docker, writes the
token to a root-only file, starts the runtime on 127.0.0.1:8080 and Caddy in front of it with a publicly trusted
certificate, and closes every port but 80 and 443 (and 22 with HCLOUD_SSH_KEY). `succeeded` is reported only once
`<endpoint>/readyz` answers 200 over verified HTTPS; the endpoint is `https://<ip with dashes>.sslip.io`, or
`https://<AGENT_ID>.<AGENT_DOMAIN>` when AGENT_DOMAIN is set. The server a run creates is recorded, so that a run
that fails deletes it, and so does `cleanup` (the workflow's step after a failed or cancelled run).
deprovision: deletes the labelled server, if any. cleanup: deletes the server this run created, if any.

Environment: AGENT_ID, REGION (a Hetzner location such as fsn1), SIZE (small, medium or large, mapped through
SERVER_TYPES), HCLOUD_TOKEN; for provision also AGENT_IMAGE (the runtime image; default
ghcr.io/<GITHUB_REPOSITORY_OWNER>/agenthost-runtime:latest), AGENT_DOMAIN, HCLOUD_SSH_KEY (name of an SSH key in the
project), SERVER_TYPES (JSON object, size → server type), READY_SECONDS (default 900) and READY_REUSE_SECONDS
(default 180); RUNNER_TEMP (set by Actions) holds the record of the created server. For tests: HCLOUD_API_URL
(another API base) and POLL_SECONDS (the pause between checks); ENDPOINT_URL replaces the computed endpoint, for
tests and for operators who front agents differently. Reports go through report.py (CALLBACK_URL, …).
"""
import http.client
import json
import os
import re
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report

DEFAULT_SERVER_TYPES = {'small': 'cx22', 'medium': 'cx32', 'large': 'cx42'}
LABEL = 'agenthost-agent'
OS_IMAGE = 'ubuntu-24.04'
RUNTIME_IMAGE_NAME = 'agenthost-runtime'
SERVER_RUNNING_SECONDS = 600
SERVER_GONE_SECONDS = 600
CREATED_RECORD = 'agenthost-created-server'
METADATA_IPV4 = 'http://169.254.169.254/hetzner/v1/metadata/public-ipv4'


class ProviderError(Exception):
    pass


class Hetzner:
    def __init__(self, token: str, base: str) -> None:
        self.token = token
        self.base = base.rstrip('/')

    def call(self, method: str, path: str, body: dict | None = None, *, missing_ok: bool = False) -> dict | None:
        """Hetzner's answer, retried on what may pass on a second try; None for a 404 when `missing_ok`."""
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
                if error.code == 404 and missing_ok:
                    return None
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

    def server(self, server_id: str) -> dict | None:
        answer = self.call('GET', f'/servers/{server_id}', missing_ok=True)
        return answer['server'] if answer else None

    def act(self, server_id: str, action: str) -> None:
        self.call('POST', f'/servers/{server_id}/actions/{action}', {})


@dataclass
class Plan:
    """What a provision needs, read and checked once before anything is created."""
    env: dict[str, str]
    agent_id: str
    region: str
    server_type: str
    image: str
    domain: str
    pause: float
    ready_seconds: float
    reuse_seconds: float


def plan_from(env: dict[str, str]) -> Plan:
    try:
        types = json.loads(env['SERVER_TYPES']) if env.get('SERVER_TYPES') else DEFAULT_SERVER_TYPES
    except ValueError:
        raise ProviderError('SERVER_TYPES must be a JSON object such as {"small": "cx22"}') from None
    if not isinstance(types, dict) or env['SIZE'] not in types:
        raise ProviderError(f'unknown size {env["SIZE"]!r}; SERVER_TYPES knows {", ".join(types)}')
    domain = env.get('AGENT_DOMAIN', '').strip().strip('.').lower()
    if domain and not re.fullmatch(r'[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+', domain):
        raise ProviderError(f'AGENT_DOMAIN {domain!r} is not a domain name such as agents.example.com')
    return Plan(env=env, agent_id=env['AGENT_ID'], region=env['REGION'], server_type=types[env['SIZE']],
                image=runtime_image(env), domain=domain, pause=float(env.get('POLL_SECONDS') or 5),
                ready_seconds=float(env.get('READY_SECONDS') or 900),
                reuse_seconds=float(env.get('READY_REUSE_SECONDS') or 180))


def runtime_image(env: dict[str, str]) -> str:
    """AGENT_IMAGE, else the image build-runtime.yml pushes to the owner's GHCR (GHCR names are lower case)."""
    owner = env.get('GITHUB_REPOSITORY_OWNER', '').lower()
    image = env.get('AGENT_IMAGE', '').strip() or (f'ghcr.io/{owner}/{RUNTIME_IMAGE_NAME}:latest' if owner else '')
    if not image:
        raise ProviderError('no runtime image: set the variable AGENT_IMAGE, or run in GitHub Actions '
                            f'(GITHUB_REPOSITORY_OWNER) to use ghcr.io/<owner>/{RUNTIME_IMAGE_NAME}:latest '
                            'built by build-runtime.yml')
    if not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9._/:@-]*', image):
        raise ProviderError(f'AGENT_IMAGE {image!r} is not an image reference such as ghcr.io/acme/agent:1')
    return image


# --- what the server runs -----------------------------------------------------------------------------------------

def cloud_init(image: str, control_url: str, token: str, *, host: str = '', ssh: bool = False) -> str:
    """The server's whole setup, done once at first boot; Docker's restart policy brings both containers back after
    a crash or a reboot. The token is only in the root-only env file. Without `host` the server names itself
    after its public IPv4 (sslip.io), which only it knows for sure."""
    # Caddy reaches the runtime through Docker's bridge, and only it can (the port is published on loopback): the
    # runtime takes the caller's address from Caddy's X-Forwarded-For, so failed keys lock out only their caller.
    runtime_env = [f'AGENTHOST_URL={control_url}', f'AGENTHOST_RUNTIME_TOKEN={token}', 'HOST=0.0.0.0', 'PORT=8080',
                   'FORWARDED_ALLOW_IPS=*']
    firewall = [['ufw', 'default', 'deny', 'incoming'], ['ufw', 'default', 'allow', 'outgoing'],
                ['ufw', 'allow', '80/tcp'], ['ufw', 'allow', '443/tcp']]
    firewall += [['ufw', 'allow', '22/tcp']] if ssh else []
    firewall += [['ufw', '--force', 'enable']]
    runcmd = [*firewall, ['systemctl', 'enable', '--now', 'docker'], ['/usr/local/sbin/agenthost-start']]
    return '\n'.join([
        '#cloud-config',
        'package_update: true',
        'packages: [docker.io, ufw, curl]',
        'write_files:',
        *written_file('/etc/agenthost/runtime.env', '0600', runtime_env),
        *written_file('/usr/local/sbin/agenthost-start', '0700', start_script(image, host)),
        'runcmd:',
        *(f'  - {json.dumps(command)}' for command in runcmd),
    ]) + '\n'


def written_file(path: str, permissions: str, lines: list[str]) -> list[str]:
    return [f'  - path: {path}', '    owner: root:root', f"    permissions: '{permissions}'", '    content: |',
            *(f'      {line}' if line else '' for line in lines)]


def start_script(image: str, host: str) -> list[str]:
    """Names the server, writes Caddy's config and starts both containers; a pull is retried, since a server's
    first minutes on the network can be bumpy."""
    if host:
        naming = [f"host='{host}'"]
    else:
        naming = ["ip=''",
                  'for attempt in $(seq 1 60); do',
                  f'  ip="$(curl -fsS {METADATA_IPV4})" && [ -n "$ip" ] && break',
                  '  sleep 2',
                  'done',
                  '[ -n "$ip" ] || { echo "agenthost: no public IPv4 from the metadata service" >&2; exit 1; }',
                  'host="$(printf %s "$ip" | tr . -).sslip.io"']
    return ['#!/bin/sh',
            "# AgentHost's agent: the runtime on 127.0.0.1:8080, Caddy in front with automatic HTTPS for the name.",
            'set -eu',
            *naming,
            "printf '%s {\\n\\treverse_proxy 127.0.0.1:8080\\n}\\n' \"$host\" > /etc/agenthost/Caddyfile",
            'pull() {',
            '  for attempt in $(seq 1 30); do docker pull "$1" && return 0; sleep 10; done',
            '  return 1',
            '}',
            f'pull {image}',
            'pull caddy:2',
            'docker run -d --name agenthost-runtime --restart unless-stopped --env-file /etc/agenthost/runtime.env '
            f'-p 127.0.0.1:8080:8080 {image}',
            'docker run -d --name agenthost-caddy --network host --restart unless-stopped '
            '-v /etc/agenthost/Caddyfile:/etc/caddy/Caddyfile:ro -v agenthost-caddy-data:/data '
            '-v agenthost-caddy-config:/config caddy:2']


# --- waiting ------------------------------------------------------------------------------------------------------

def ipv4(server: dict) -> str:
    return ((server.get('public_net') or {}).get('ipv4') or {}).get('ip') or ''


def endpoint_of(plan: Plan, address: str) -> str:
    """The agent's HTTPS address, computed here exactly as the server computes the name its certificate is for."""
    if plan.env.get('ENDPOINT_URL'):
        return plan.env['ENDPOINT_URL'].rstrip('/')
    if plan.domain:
        return f'https://{plan.agent_id}.{plan.domain}'
    if not address:
        raise ProviderError('the server has no public IPv4, so it has no sslip.io name; set AGENT_DOMAIN')
    return f'https://{address.replace(".", "-")}.sslip.io'


def wait_for(predicate, what: str, timeout: float, pause: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(pause)
    raise ProviderError(f'gave up waiting {timeout:.0f} s for {what}')


def running_server(cloud: Hetzner, server_id: str, pause: float) -> dict:
    def running() -> dict | None:
        server = cloud.server(server_id)
        if server is None:
            raise ProviderError(f'server {server_id} disappeared while it was starting')
        return server if server['status'] == 'running' else None
    return wait_for(running, f'server {server_id} to run', timeout=SERVER_RUNNING_SECONDS, pause=pause)


def reachable(endpoint: str) -> bool:
    url = urllib.parse.urlsplit(endpoint)
    try:
        with socket.create_connection((url.hostname, url.port or (443 if url.scheme == 'https' else 80)), timeout=5):
            return True
    except OSError:
        return False


def readiness_problem(endpoint: str) -> str:
    """'' when the runtime answers /readyz with 200 through the endpoint (certificate verified), else what is wrong."""
    try:
        with urllib.request.urlopen(f'{endpoint}/readyz', timeout=10) as response:
            return '' if response.status == 200 else f'/readyz answered HTTP {response.status}'
    except urllib.error.HTTPError as error:
        return f'/readyz answered HTTP {error.code} {error.read().decode(errors="replace")[:200]}'.strip()
    except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, TLS, not HTTP at all
        reason = getattr(error, 'reason', error)
        if 'CERTIFICATE' in str(reason).upper() or 'SSL' in type(reason).__name__.upper():
            return f'no valid HTTPS certificate yet ({reason})'
        return f'nothing answered ({reason})'


def ready_problem(endpoint: str, seconds: float, pause: float, on_reachable=None) -> str:
    """'' once /readyz answers 200 within `seconds`, else the last problem; `on_reachable` is called once, when
    the endpoint first accepts connections (the proxy is up and fetching its certificate)."""
    deadline = time.monotonic() + seconds
    while True:
        if on_reachable is not None and reachable(endpoint):
            on_reachable()
            on_reachable = None
        problem = readiness_problem(endpoint)
        if not problem or time.monotonic() >= deadline:
            return problem
        time.sleep(pause)


def started(cloud: Hetzner, plan: Plan, server_id: str, say, seconds: float, *,
            announce: str = '') -> tuple[str, str, str]:
    """Wait for the server to run and its runtime to be ready: (address, endpoint, '' or the last problem). With
    `announce` (what is starting), the steps agent_starting and certificate are reported on the way."""
    address = ipv4(running_server(cloud, server_id, plan.pause))
    endpoint = endpoint_of(plan, address)
    if not announce:
        return address, endpoint, ready_problem(endpoint, seconds, plan.pause)
    say('progress', 'agent_starting', f'Server {server_id} is running at {address}; {announce}', address, server_id)
    host = urllib.parse.urlsplit(endpoint).netloc
    return address, endpoint, ready_problem(endpoint, seconds, plan.pause, lambda: say(
        'progress', 'certificate', f'{host} answers; waiting for the HTTPS certificate of {endpoint} and for the '
        'runtime to be ready', address, server_id))


# --- the actions --------------------------------------------------------------------------------------------------

def provision(cloud: Hetzner, plan: Plan, say) -> None:
    server = cloud.find(plan.agent_id)
    outcome = reused(cloud, plan, server, say) if server is not None else None
    if outcome is None:
        server_id = created(cloud, plan, say)
        address, endpoint, problem = started(cloud, plan, server_id, say, plan.ready_seconds,
                                             announce=f'the runtime {plan.image} is starting')
        if problem:
            raise ProviderError(f'the runtime did not become ready at {endpoint} within {plan.ready_seconds:.0f} s: '
                                f'{problem}')
        outcome = address, endpoint, server_id
    address, endpoint, server_id = outcome
    say('succeeded', 'running', f'The agent answers at {endpoint}', address, server_id, endpoint)
    forget_created(plan.env)  # the server is the agent's now: no cleanup may delete it


def reused(cloud: Hetzner, plan: Plan, server: dict, say) -> tuple[str, str, str] | None:
    """Bring an earlier run's server back (power on, then reboot): (address, endpoint, server id) when its runtime
    is ready, None once it is deleted for a fresh one. No bootstrap: the runtime there holds its token."""
    server_id, seconds = str(server['id']), plan.reuse_seconds
    powered = ''
    if server['status'] == 'off':
        cloud.act(server_id, 'poweron')
        powered = '; it was off, so it is powered on'
    say('progress', 'server_created', f'Server {server_id} found (created by an earlier run) in {plan.region}{powered}',
        ipv4(server), server_id)
    address, endpoint, problem = started(cloud, plan, server_id, say, seconds,
                                         announce='the runtime there is starting, or already running')
    if not problem:
        return address, endpoint, server_id
    say('progress', 'agent_starting', f'Server {server_id} was not ready within {seconds:.0f} s ({problem}); '
        'rebooting it', address, server_id)
    cloud.act(server_id, 'reset')
    address, endpoint, problem = started(cloud, plan, server_id, say, seconds)
    if not problem:
        return address, endpoint, server_id
    say('progress', 'server_created', f'Server {server_id} was still not ready after a reboot ({problem}); deleting '
        'it and creating a fresh one', address, server_id)
    deleted(cloud, server_id, plan.pause)
    return None


def created(cloud: Hetzner, plan: Plan, say) -> str:
    """Create the server with its runtime token in the cloud-init; the id is recorded at once for a cleanup."""
    try:
        access = report.bootstrap(plan.env)
    except report.BootstrapError as error:
        raise ProviderError(str(error)) from None
    if access['agent_id'] != plan.agent_id:
        raise ProviderError(f'AgentHost bootstrapped agent {access["agent_id"]} for job {plan.env["JOB_ID"]}, '
                            f'but this run is for agent {plan.agent_id}')
    host = f'{plan.agent_id}.{plan.domain}' if plan.domain else ''
    body = {'name': f'agenthost-agent-{plan.agent_id}', 'server_type': plan.server_type, 'image': OS_IMAGE,
            'location': plan.region, 'labels': {LABEL: plan.agent_id, 'managed-by': 'agenthost'},
            'user_data': cloud_init(plan.image, access['control_url'], access['runtime_token'], host=host,
                                    ssh=bool(plan.env.get('HCLOUD_SSH_KEY'))),
            'public_net': {'enable_ipv4': True, 'enable_ipv6': True}}
    if plan.env.get('HCLOUD_SSH_KEY'):
        body['ssh_keys'] = [plan.env['HCLOUD_SSH_KEY']]
    server = cloud.call('POST', '/servers', body)['server']
    server_id = str(server['id'])
    remember_created(plan.env, server_id)
    say('progress', 'server_created', f'Server {server_id} created in {plan.region}', ipv4(server), server_id)
    return server_id


def deleted(cloud: Hetzner, server_id: str, pause: float) -> None:
    cloud.call('DELETE', f'/servers/{server_id}', missing_ok=True)
    wait_for(lambda: cloud.server(server_id) is None, f'server {server_id} to be gone', timeout=SERVER_GONE_SECONDS,
             pause=pause)


def deprovision(cloud: Hetzner, env: dict[str, str], say) -> None:
    agent_id = env['AGENT_ID']
    server = cloud.find(agent_id)
    if server is None:
        say('progress', 'server_deleted', f'No server is labelled {LABEL}={agent_id}; nothing to delete', '', '')
    else:
        server_id = str(server['id'])
        deleted(cloud, server_id, float(env.get('POLL_SECONDS') or 5))
        say('progress', 'server_deleted', f'Server {server_id} deleted', '', server_id)
    say('succeeded', '', 'The server is gone', '', '')


def cleanup(cloud: Hetzner, env: dict[str, str], say) -> None:
    """Delete the server this run created, so a failed or cancelled run leaves nothing that costs money."""
    server_id = created_by_this_run(env)
    if not server_id:
        print('cleanup: this run created no server; nothing to delete')
        return
    deleted(cloud, server_id, float(env.get('POLL_SECONDS') or 5))
    forget_created(env)
    say('progress', 'server_deleted', f'The failed or cancelled run removed server {server_id}, which it had '
        'created', '', server_id)


# --- the record of the server this run created ---------------------------------------------------------------------

def created_record(env: dict[str, str]) -> Path:
    return Path(env.get('RUNNER_TEMP') or tempfile.gettempdir()) / CREATED_RECORD


def remember_created(env: dict[str, str], server_id: str) -> None:
    created_record(env).write_text(json.dumps({'job_id': env.get('JOB_ID', ''), 'server_id': server_id}))


def created_by_this_run(env: dict[str, str]) -> str:
    """The recorded server id, if this job's run wrote it (a shared temp dir may hold another job's record)."""
    try:
        record = json.loads(created_record(env).read_text())
    except (OSError, ValueError):
        return ''
    return str(record.get('server_id') or '') if record.get('job_id') == env.get('JOB_ID', '') else ''


def forget_created(env: dict[str, str]) -> None:
    created_record(env).unlink(missing_ok=True)


# --- the command ---------------------------------------------------------------------------------------------------

def reporter(env: dict[str, str]):
    def say(status: str, step: str, message: str, ip_address: str, server_id: str, endpoint_url: str = '') -> None:
        print(f'{status} {step}: {message}', flush=True)
        args = ['--status', status, '--step', step, '--message', message]
        args += ['--ip-address', ip_address] if ip_address else []
        args += ['--server-id', server_id] if server_id else []
        args += ['--endpoint-url', endpoint_url] if endpoint_url else []
        if report.main(args, env) != 0:
            raise ProviderError('AgentHost did not accept the report; see the lines above')
    return say


def checked(env: dict[str, str], action: str) -> Hetzner:
    needed = ('HCLOUD_TOKEN',) if action == 'cleanup' else ('AGENT_ID', 'REGION', 'SIZE', 'HCLOUD_TOKEN')
    missing = [name for name in needed if not env.get(name)]
    if missing:
        raise ProviderError(f'set {", ".join(missing)}: HCLOUD_TOKEN is a secret of the infrastructure '
                            'repository, the others come from the workflow inputs')
    if action != 'cleanup' and (not re.fullmatch(r'\d+', env['AGENT_ID'])
                                or not re.fullmatch(r'[a-z0-9-]+', env['REGION'])):
        raise ProviderError('AGENT_ID must be a number and REGION a Hetzner location such as fsn1')
    return Hetzner(env['HCLOUD_TOKEN'], env.get('HCLOUD_API_URL') or 'https://api.hetzner.cloud/v1')


def failed(cloud: Hetzner | None, env: dict[str, str], action: str, reason: str) -> None:
    """Report the failure, after deleting what this run created (the report ends the job, so it comes last)."""
    print(f'error: {reason}', file=sys.stderr)
    if cloud is not None and action == 'provision' and created_by_this_run(env):
        try:
            cleanup(cloud, env, reporter(env))
        except ProviderError as error:
            reason += f'; the server it created could not be deleted: {error}'
    with_step = 'server_created' if action == 'provision' else 'server_deleted'
    report.main(['--status', 'failed', '--step', with_step, '--message', reason], env)


def main(argv: list[str], env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    action = argv[0] if argv else ''
    if action not in ('provision', 'deprovision', 'cleanup'):
        print('usage: hetzner.py provision|deprovision|cleanup', file=sys.stderr)
        return 2
    cloud = None
    try:
        cloud = checked(env, action)
        if action == 'provision':
            provision(cloud, plan_from(env), reporter(env))
        else:
            (deprovision if action == 'deprovision' else cleanup)(cloud, env, reporter(env))
    except ProviderError as error:
        if action == 'cleanup':  # the workflow's next step reports the failure
            print(f'error: {error}', file=sys.stderr)
        else:
            failed(cloud, env, action, str(error))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
