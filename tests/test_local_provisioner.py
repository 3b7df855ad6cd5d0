"""`PROVISIONER=local`: agents' runtimes as child processes of AgentHost, through the same job machinery.

The supervisor is driven directly against the runtime control double; the provisioner through the real app
(`python main.py`) with a comp grant and the JSON API, as an operator trying AgentHost on one machine would.
Until AgentHost serves the runtime's config, a runtime answers /healthz but never becomes ready, so "up" here
means /healthz answers.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models import Agent, JobEvent, ProvisioningJob
from models import User as Account
from services.provisioning.local_runtimes import RuntimeStartError, Supervisor
from tests.factories import make_agent, make_entitled_user, make_token
from tests.live_server import app_process
from tests.runtime_control_double import RUNTIME_TOKEN, RuntimeControlDouble, control  # noqa: F401
from tests.waiting import wait_until


def answers_healthz(url: str) -> bool:
    try:
        return httpx.get(f'{url}/healthz', timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(('127.0.0.1', port)) != 0


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    supervisor = Supervisor()
    yield supervisor
    supervisor.shutdown()


# --- the supervisor ---------------------------------------------------------------------------------------------------

def test_a_started_runtime_answers_healthz_and_is_gone_after_stop(supervisor, control, tmp_path: Path):
    runtime = supervisor.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
    assert answers_healthz(runtime.url)
    assert supervisor.get(7) is runtime

    assert supervisor.stop(7) is runtime
    assert runtime.process.poll() is not None
    assert port_is_closed(runtime.port)
    assert supervisor.get(7) is None


def test_the_runtime_learns_agenthost_and_its_token_from_its_environment(supervisor, control, tmp_path: Path):
    supervisor.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
    wait_until(lambda: control.config_requests, 'the runtime to ask the control double for its config')


def test_a_runtime_that_exits_at_once_is_a_clear_error_naming_its_log(control, tmp_path: Path):
    failing = Supervisor(command=[sys.executable, '-c', 'import sys; print("no model today"); sys.exit(3)'])
    with pytest.raises(RuntimeStartError) as error:
        failing.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
    assert 'exited with code 3' in str(error.value)
    assert str(tmp_path / 'agent-7.log') in str(error.value)
    assert 'no model today' in str(error.value)
    assert failing.get(7) is None


def test_a_runtime_that_never_answers_is_stopped_and_named(control, tmp_path: Path):
    silent = Supervisor(command=[sys.executable, '-c', 'import time; time.sleep(60)'], start_timeout=1)
    with pytest.raises(RuntimeStartError) as error:
        silent.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
    assert 'did not answer /healthz within 1 s' in str(error.value)
    assert silent.get(7) is None


def test_an_unwritable_log_is_a_clear_error(supervisor, control, tmp_path: Path):
    (tmp_path / 'agent-7.log').mkdir()
    with pytest.raises(RuntimeStartError, match=r'agent-7\.log can be written'):
        supervisor.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)


def test_the_previous_log_is_kept_once(supervisor, control, tmp_path: Path):
    (tmp_path / 'agent-7.log').write_text('the last start\n')
    supervisor.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
    assert (tmp_path / 'agent-7.log.1').read_text() == 'the last start\n'


def test_shutdown_ends_every_runtime(supervisor, control, tmp_path: Path):
    runtimes = [supervisor.start(agent_id, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
                for agent_id in (1, 2)]
    supervisor.shutdown()
    assert all(runtime.process.poll() is not None for runtime in runtimes)
    assert all(port_is_closed(runtime.port) for runtime in runtimes)


def test_a_runtime_that_dies_is_noticed_and_reported(supervisor, control, tmp_path: Path):
    exits: list[tuple[int, int, Path]] = []
    reported = threading.Event()
    supervisor.on_exit = lambda *exit: (exits.append(exit), reported.set())
    runtime = supervisor.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
    runtime.process.kill()
    assert reported.wait(10)
    assert exits == [(7, -9, tmp_path / 'agent-7.log')]
    assert supervisor.get(7) is None


def test_a_stopped_runtime_is_not_reported_as_died(supervisor, control, tmp_path: Path):
    exits: list = []
    supervisor.on_exit = lambda *exit: exits.append(exit)
    runtime = supervisor.start(7, agenthost_url=control.url, token=RUNTIME_TOKEN, log_dir=tmp_path)
    supervisor.stop(7)
    runtime.process.wait()
    assert exits == []


def test_a_runtime_ends_when_agenthost_is_killed(control, tmp_path: Path):
    parent = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time\n'
                               'from pathlib import Path\n'
                               'from services.provisioning.local_runtimes import Supervisor\n'
                               f'runtime = Supervisor().start(7, agenthost_url={control.url!r}, token="t", '
                               f'log_dir=Path({str(tmp_path)!r}))\n'
                               'print(runtime.pid, runtime.port, flush=True)\n'
                               'time.sleep(60)\n'],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    try:
        pid, port = (int(value) for value in parent.stdout.readline().split())
        parent.kill()
        parent.wait()
        wait_until(lambda: port_is_closed(port), 'the orphaned runtime to end')
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


# --- the local provisioner in the real app ----------------------------------------------------------------------------

@pytest.fixture
def local_app(isolated_environment, monkeypatch, tmp_path: Path) -> Iterator[str]:  # noqa: ARG001
    monkeypatch.setenv('PROVISIONER', 'local')
    with app_process(tmp_path / 'server.log') as (base_url, _):
        yield base_url


@pytest.fixture
def owner() -> Account:
    return make_entitled_user('owner@example.com')


def api(base_url: str, owner: Account) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=make_token(owner), timeout=10)


def agent_in(agent_id: int, *statuses: str) -> Agent | None:
    agent = Agent.get_by_id(agent_id)
    return agent if agent.status in statuses else None


def events_of(agent_id: int) -> list[JobEvent]:
    return list(JobEvent.select().join(ProvisioningJob).where(ProvisioningJob.agent == agent_id)
                .order_by(JobEvent.id))


def endpoint(agent_id: int) -> str:
    return Agent.get_by_id(agent_id).endpoint_url


def deployed(base_url: str, owner: Account, agent: Agent) -> str:
    with api(base_url, owner) as client:
        response = client.post(f'/api/agents/{agent.id}/deploy')
    assert response.status_code == 202, response.text
    wait_until(lambda: agent_in(agent.id, 'running', 'failed'), 'the deploy to finish')
    assert Agent.get_by_id(agent.id).status == 'running', Agent.get_by_id(agent.id).status_reason
    return endpoint(agent.id)


def test_a_deploy_runs_the_agent_on_this_machine(local_app: str, owner: Account):
    agent = make_agent(owner)
    url = deployed(local_app, owner, agent)
    assert url.startswith('http://127.0.0.1:')
    assert answers_healthz(url)
    job = ProvisioningJob.get(ProvisioningJob.agent == agent.id)
    assert (job.kind, job.status, job.step) == ('provision', 'succeeded', 'running')
    steps = [event.step for event in events_of(agent.id)]
    assert steps == ['queued', 'dispatched', 'agent_starting', 'running']


@pytest.mark.parametrize(('method', 'path', 'outcome'), [('POST', '/stop', 'stopped'), ('DELETE', '', 'deleted')])
def test_stop_and_delete_end_the_process(method: str, path: str, outcome: str, local_app: str, owner: Account):
    agent = make_agent(owner)
    url = deployed(local_app, owner, agent)
    with api(local_app, owner) as client:
        assert client.request(method, f'/api/agents/{agent.id}{path}').status_code == 202
    wait_until(lambda: agent_in(agent.id, outcome), f'the agent to be {outcome}')
    assert port_is_closed(int(url.rsplit(':', 1)[1]))
    assert Agent.get_by_id(agent.id).server_id is None


def test_a_runtime_that_cannot_start_fails_the_deploy_and_retry_runs_it(local_app: str, owner: Account,
                                                                        isolated_environment):
    agent = make_agent(owner)
    blocked_log = isolated_environment.data_dir.resolve() / 'runtimes' / f'agent-{agent.id}.log'
    blocked_log.mkdir(parents=True)
    with api(local_app, owner) as client:
        assert client.post(f'/api/agents/{agent.id}/deploy').status_code == 202
        failed = wait_until(lambda: agent_in(agent.id, 'failed'), 'the deploy to fail')
        assert f'{blocked_log} can be written' in failed.status_reason

        blocked_log.rmdir()
        assert client.post(f'/api/agents/{agent.id}/retry').status_code == 202
    wait_until(lambda: agent_in(agent.id, 'running'), 'the retried deploy to run')
    assert answers_healthz(endpoint(agent.id))


def test_running_local_agents_start_again_with_agenthost(isolated_environment, monkeypatch, owner: Account,
                                                         tmp_path: Path):
    monkeypatch.setenv('PROVISIONER', 'local')
    agent = make_agent(owner)
    with app_process(tmp_path / 'server.log') as (base_url, _):
        first = deployed(base_url, owner, agent)
    assert port_is_closed(int(first.rsplit(':', 1)[1]))  # AgentHost took its runtime with it

    with app_process(tmp_path / 'server.log'):
        restarted = wait_until(lambda: [event for event in events_of(agent.id) if event.step == 'runtime_restarted'],
                               'the runtime to start again')
        second = endpoint(agent.id)
        assert second != first
        assert second in restarted[0].message
        assert answers_healthz(second)
    assert Agent.get_by_id(agent.id).status == 'running'


def test_a_runtime_that_dies_is_on_the_timeline_and_agenthost_carries_on(local_app: str, owner: Account):
    agent = make_agent(owner)
    deployed(local_app, owner, agent)
    [started] = [event for event in events_of(agent.id) if event.step == 'running']
    os.kill(int(re.search(r'process ([0-9]+)', started.message)[1]), signal.SIGKILL)
    [exited] = wait_until(lambda: [event for event in events_of(agent.id) if event.step == 'runtime_exited'],
                          'the exit on the timeline')
    assert 'exit code -9' in exited.message
    assert httpx.get(f'{local_app}/healthz', timeout=5).status_code == 200
