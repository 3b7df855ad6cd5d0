"""The whole way with the real server process (`python main.py`): report.py drives a deploy to running, and a
server killed with SIGKILL in the middle of a dispatch never dispatches a job twice after it restarts."""
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models import JobEvent, ProvisioningJob
from tests.factories import make_agent, make_entitled_user, make_token
from tests.github_double import Answer, GitHubDouble
from tests.live_server import REPO_ROOT, free_port, live_server, log_tail, server_environment, stop, wait_until_healthy  # noqa: F401
from tests.provisioning_support import CALLBACK_SECRET, github  # noqa: F401

REPORT = REPO_ROOT / 'deploy' / 'github' / 'report.py'


def wait(condition, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    pytest.fail(f'waited {timeout:.0f} s for {what}', pytrace=False)


def run_report(inputs: dict, run: dict, *args: str) -> subprocess.CompletedProcess:
    env = {'PATH': os.environ['PATH'], 'CALLBACK_URL': inputs['callback_url'], 'CALLBACK_SECRET': CALLBACK_SECRET,
           'JOB_ID': inputs['job_id'], 'GITHUB_RUN_ID': str(run['id']), 'GITHUB_SERVER_URL': 'https://github.com',
           'GITHUB_REPOSITORY': 'acme/infra'}
    return subprocess.run([sys.executable, str(REPORT), *args], env=env, capture_output=True, text=True, timeout=60)


def test_report_py_drives_a_deploy_to_running_with_the_ip(github: GitHubDouble, live_server: str):
    owner = make_entitled_user('owner@example.com')
    headers = make_token(owner)
    agent = make_agent(owner)
    with httpx.Client(base_url=live_server, headers=headers, timeout=10) as client:
        response = client.post(f'/api/agents/{agent.id}/deploy')
        assert response.status_code == 202, response.text
        job_id = response.json()['job']['id']
        [dispatch] = wait(lambda: github.dispatches, 'the dispatch')
        inputs = dispatch.body['inputs']
        assert inputs['callback_url'] == f'{live_server}/api/provisioning/callback'
        [run] = github.runs_for(job_id)

        for args in (['--status', 'in_progress', '--step', 'started', '--message', 'Runner started'],
                     ['--status', 'progress', '--step', 'server_created', '--message', 'Server 42 created',
                      '--ip-address', '203.0.113.7', '--server-id', '42'],
                     ['--status', 'progress', '--step', 'agent_starting', '--message', 'Starting the container'],
                     ['--status', 'succeeded', '--step', 'running', '--message', 'The agent answers',
                      '--ip-address', '203.0.113.7', '--server-id', '42']):
            result = run_report(inputs, run, *args)
            assert result.returncode == 0, result.stderr
        again = run_report(inputs, run, '--status', 'failed', '--message', 'a late failure')
        assert again.returncode == 0  # accepted (200) and ignored: the job has finished

        shown = client.get(f'/api/agents/{agent.id}').json()
        assert (shown['status'], shown['ip_address']) == ('running', '203.0.113.7')
        assert shown['job']['status'] == 'succeeded'
        assert ProvisioningJob.get_by_id(shown['job']['id']).run_url == run['html_url']
        assert shown['job']['run_url'] is None  # a link into the operator's repository is for admins
        steps = [event['step'] for event in client.get(f'/api/agents/{agent.id}/events').json()['events']]
        assert steps[-4:] == ['started', 'server_created', 'agent_starting', 'running']


def test_a_failed_run_reported_by_githubs_webhook_fails_the_job(github: GitHubDouble, live_server: str):
    owner = make_entitled_user('owner@example.com')
    agent = make_agent(owner)
    with httpx.Client(base_url=live_server, headers=make_token(owner), timeout=10) as client:
        job_id = client.post(f'/api/agents/{agent.id}/deploy').json()['job']['id']
        wait(lambda: ProvisioningJob.get_by_id(job_id).status == 'dispatched', 'the dispatch')
        [run] = github.runs_for(job_id)
        github.set_run(run['id'], status='completed', conclusion='timed_out')
        assert github.send_workflow_run(live_server, run, 'completed') == 200
        shown = client.get(f'/api/agents/{agent.id}').json()
    assert shown['status'] == 'failed'
    assert shown['job']['status'] == 'failed' and run['html_url'] not in shown['job']['last_error']
    assert run['html_url'] in ProvisioningJob.get_by_id(job_id).last_error


class Server:
    """`python main.py` that the test can kill with SIGKILL and start again on the same database."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.tmp_path = tmp_path
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.log = self.tmp_path / f'server-{self.starts}.log'
        with self.log.open('wb') as log:
            self.process = subprocess.Popen([sys.executable, 'main.py'], cwd=REPO_ROOT,
                                            env=server_environment(self.port), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_until_healthy(self.process, self.url, self.log)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def server(github: GitHubDouble, monkeypatch, tmp_path: Path) -> Iterator[Server]:  # noqa: ARG001
    monkeypatch.setenv('GITHUB_TIMEOUT_SECONDS', '2')  # the dispatch lease: 3 × 2 s + 1 s
    server = Server(tmp_path)
    yield server
    if server.process is not None:
        stop(server.process)


@pytest.mark.parametrize('reached_github', [True, False], ids=['run started before the kill', 'no run yet'])
def test_a_server_killed_while_dispatching_dispatches_nothing_twice_after_restart(github: GitHubDouble,
                                                                                  server: Server, reached_github):
    # GitHub receives the dispatch and (maybe) starts the run, but the answer never comes: the app dies first.
    github.fail_next(Answer(200 if reached_github else 503, creates_run=reached_github, hang=True))
    owner = make_entitled_user('owner@example.com')
    agent = make_agent(owner)
    server.start()
    with httpx.Client(base_url=server.url, headers=make_token(owner), timeout=10) as client:
        job_id = client.post(f'/api/agents/{agent.id}/deploy').json()['job']['id']
    wait(lambda: github.dispatches, 'the dispatch to reach GitHub')
    assert ProvisioningJob.get_by_id(job_id).status == 'dispatching'
    server.kill()

    server.start()
    job = wait(lambda: (job := ProvisioningJob.get_by_id(job_id)).status == 'dispatched' and job,
               'the restarted server to reconcile the interrupted dispatch', timeout=20)
    runs = github.runs_for(job_id)
    assert len(runs) == 1, f'{len(runs)} runs for one job'
    assert job.run_id == str(runs[0]['id'])
    assert len(github.dispatches) == (1 if reached_github else 2)
    assert JobEvent.select().where((JobEvent.job == job_id) & (JobEvent.step == 'reconciling')).exists()
    stop(server.process)  # a graceful stop lets the dispatcher finish all work under way: nothing more can follow
    assert server.process.returncode is not None
    assert len(github.runs_for(job_id)) == 1
    assert len(github.dispatches) == (1 if reached_github else 2)
    output = log_tail(server.log, lines=300)
    assert 'Traceback' not in output, output
