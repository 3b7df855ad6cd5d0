"""Agents' runtimes as child processes of AgentHost on 127.0.0.1 (`PROVISIONER=local`): start, watch, stop.

Each child is `python -m runtime` run from the repository root, in a process group of its own, with its output in
`<DATA_DIR>/runtimes/agent-<id>.log` (the previous start's output kept as `.log.1`). No child outlives AgentHost:
`shutdown` stops them all, and on Linux the kernel sends each one SIGTERM when AgentHost dies without a shutdown
(`PR_SET_PDEATHSIG`). That signal follows the thread that forked the child, so every child is forked by one thread
that lives as long as the supervisor does.

The child's environment is a short list of the parent's (paths, locale, proxies, CA bundles) plus its own four
variables: AgentHost's secrets (Stripe, GitHub, the storage secret) have no business in an agent's process.
"""
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger('services.provisioning')

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0
LOG_LINES_IN_ERRORS = 3
INHERITED_VARIABLES = ('PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'VIRTUAL_ENV', 'SSL_CERT_FILE',
                       'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy',
                       'https_proxy', 'no_proxy', 'RUNTIME_PROVIDER_TIMEOUT')
PR_SET_PDEATHSIG = 1

ExitListener = Callable[[int, int, Path], None]
"""Told `(agent id, exit code, log file)` when a runtime ends that nobody asked to stop."""


class RuntimeStartError(Exception):
    """The runtime could not be started or did not come up; the message names its log file."""


@dataclass
class LocalRuntime:
    agent_id: int
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    @property
    def pid(self) -> int:
        return self.process.pid


class Supervisor:
    """Knows which agent has which process and port; starts, stops and watches them (thread-safe)."""

    def __init__(self, *, command: list[str] | None = None, start_timeout: float = START_TIMEOUT_SECONDS,
                 stop_grace: float = STOP_GRACE_SECONDS) -> None:
        self.command = command or [sys.executable, '-m', 'runtime']
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.on_exit: ExitListener | None = None
        self.runtimes: dict[int, LocalRuntime] = {}
        self.lock = threading.Lock()
        self.forker: ThreadPoolExecutor | None = None

    def get(self, agent_id: int) -> LocalRuntime | None:
        """The agent's runtime while its process lives (one that exited is forgotten by its watcher)."""
        with self.lock:
            return self.runtimes.get(agent_id)

    def start(self, agent_id: int, *, agenthost_url: str, token: str, log_dir: Path) -> LocalRuntime:
        """Start the agent's runtime (stopping one it already has) and return once it answers /healthz."""
        self.stop(agent_id)
        port = free_port()
        log_path = log_dir / f'agent-{agent_id}.log'
        try:
            rotate(log_path)
            process = self._forker().submit(self._spawn, port, log_path, agenthost_url, token).result()
        except OSError as error:
            raise RuntimeStartError(f'Could not start the runtime ({error.strerror or error}): check that '
                                    f'{log_path} can be written.') from None
        runtime = LocalRuntime(agent_id, port, process, log_path)
        with self.lock:
            self.runtimes[agent_id] = runtime
        threading.Thread(target=self._watch, args=(runtime,), name=f'runtime-watch-{agent_id}', daemon=True).start()
        try:
            self._wait_until_healthy(runtime)
        except RuntimeStartError:
            self.stop(agent_id)
            raise
        log.info('agent %s: runtime started at %s (pid %s)', agent_id, runtime.url, runtime.pid)
        return runtime

    def stop(self, agent_id: int) -> LocalRuntime | None:
        """End the agent's runtime: SIGTERM to its process group, SIGKILL after the grace; returns what it stopped."""
        with self.lock:
            runtime = self.runtimes.pop(agent_id, None)
        if runtime is None:
            return None
        end_process_group(runtime.process, self.stop_grace)
        log.info('agent %s: runtime stopped (pid %s, exit code %s)', agent_id, runtime.pid, runtime.process.returncode)
        return runtime

    def shutdown(self) -> None:
        """Stop every runtime (AgentHost is exiting); the supervisor may be started again afterwards."""
        with self.lock:
            agent_ids = list(self.runtimes)
        for agent_id in agent_ids:
            self.stop(agent_id)
        if self.forker is not None:
            self.forker.shutdown(wait=True)
            self.forker = None

    def _forker(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.forker is None:
                self.forker = ThreadPoolExecutor(max_workers=1, thread_name_prefix='runtime-forker')
            return self.forker

    def _spawn(self, port: int, log_path: Path, agenthost_url: str, token: str) -> subprocess.Popen:
        environment = {name: value for name, value in os.environ.items() if name in INHERITED_VARIABLES}
        environment.update(AGENTHOST_URL=agenthost_url, AGENTHOST_RUNTIME_TOKEN=token, HOST='127.0.0.1',
                           PORT=str(port), PYTHONUNBUFFERED='1')
        with open(log_path, 'wb') as output:
            return subprocess.Popen(self.command, cwd=REPOSITORY_ROOT, env=environment, stdin=subprocess.DEVNULL,
                                    stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent(os.getpid()))

    def _wait_until_healthy(self, runtime: LocalRuntime) -> None:
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if runtime.process.poll() is not None:
                    raise RuntimeStartError(f'The runtime exited with code {runtime.process.returncode} before '
                                            f'answering /healthz; its output is in {runtime.log_path}'
                                            f'{last_lines(runtime.log_path)}')
                try:
                    if client.get(f'{runtime.url}/healthz').status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # bounded by the deadline; the child needs a moment to import and bind
        raise RuntimeStartError(f'The runtime did not answer /healthz within {self.start_timeout:.0f} s; its output '
                                f'is in {runtime.log_path}{last_lines(runtime.log_path)}')

    def _watch(self, runtime: LocalRuntime) -> None:
        """Wait for the child to end; one that ended while still registered was not asked to stop."""
        returncode = runtime.process.wait()
        with self.lock:
            unexpected = self.runtimes.get(runtime.agent_id) is runtime
            if unexpected:
                del self.runtimes[runtime.agent_id]
        if unexpected:
            log.warning('agent %s: runtime exited unexpectedly with code %s; see %s', runtime.agent_id, returncode,
                        runtime.log_path)
            if self.on_exit is not None:
                try:
                    self.on_exit(runtime.agent_id, returncode, runtime.log_path)
                except Exception:
                    log.exception('agent %s: recording the runtime exit failed', runtime.agent_id)


def free_port() -> int:
    """A port nobody listens on right now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def rotate(log_path: Path) -> None:
    """Keep the previous start's output as `.log.1`, so a crash before a restart can still be read."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.is_file():
        log_path.replace(log_path.with_name(log_path.name + '.1'))


def last_lines(log_path: Path) -> str:
    try:
        lines = [line for line in log_path.read_text(errors='replace').splitlines() if line.strip()]
    except OSError:
        return '.'
    tail = ' | '.join(lines[-LOG_LINES_IN_ERRORS:])[-500:]
    return f' (last lines: {tail})' if tail else ' (it wrote nothing).'


def end_process_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM to the child's whole group, SIGKILL when it has not ended after `grace` seconds."""
    for signal_number, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it ended between the poll and the signal
            os.killpg(process.pid, signal_number)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """For `preexec_fn` on Linux: the kernel sends the child SIGTERM when its parent dies; elsewhere nothing."""
    if not sys.platform.startswith('linux'):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not in the child

    def in_the_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
    return in_the_child
