"""`PROVISIONER=local`: agents' runtimes as child processes of AgentHost, through the same job machinery.

The supervisor is driven directly against the runtime control double; the provisioner through the real app
(`python main.py`) with a comp grant and the JSON API, as an operator trying AgentHost on one machine would.
Until AgentHost serves the runtime's config, a runtime answers /healthz but never becomes ready, so "up" here
means /healthz answers.
"""
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from services.provisioning.local_runtimes import RuntimeStartError, Supervisor
from tests.runtime_control_double import RUNTIME_TOKEN, RuntimeControlDouble


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)  # bounded by the deadline
    pytest.fail(f'waited {timeout:.0f} s for {what}', pytrace=False)


def answers_healthz(url: str) -> bool:
    try:
        return httpx.get(f'{url}/healthz', timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(('127.0.0.1', port)) != 0


@pytest.fixture
def control() -> Iterator[RuntimeControlDouble]:
    double = RuntimeControlDouble()
    yield double
    double.close()


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
