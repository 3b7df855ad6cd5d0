"""Processes the benchmark drives: the real app (`python main.py`) and the bare-Starlette baseline."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DROPPED = ('PYTEST_CURRENT_TEST', 'NICEGUI_USER_SIMULATION', 'NICEGUI_STORAGE_PATH', 'NICEGUI_HOST', 'NICEGUI_PORT',
           'NICEGUI_PROTOCOL', 'NICEGUI_SCREEN_TEST_PORT', 'DATABASE_URL', 'AGENTHOST_ENV_FILE')


@dataclass
class AppServer:
    url: str
    startup_seconds: float
    pid: int
    data_dir: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 60) -> float:
    """Seconds until `url` answers 200; fails loudly if the process dies first."""
    started = time.monotonic()
    with httpx.Client(timeout=2) as client:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f'{process.args} exited with {process.returncode}')
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f'{url} did not answer within {timeout} s')


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def app_environment(data_dir: Path, port: int, env: dict[str, str] | None = None) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if name not in DROPPED}
    environment.update(PORT=str(port), HOST='127.0.0.1', PUBLIC_URL=f'http://127.0.0.1:{port}',
                       DATA_DIR=str(data_dir), AGENTHOST_ENV_FILE='', **(env or {}))
    return environment


@contextmanager
def app_server(env: dict[str, str] | None = None, command: list[str] | None = None, *, port: int | None = None,
               data_dir: Path | None = None, users: tuple[str, ...] = ()) -> Iterator['AppServer']:
    """The real app on SQLite (in `data_dir`, or a fresh one) with `users` created (password `benchmark`); yields
    its address, process id and the seconds to its first /healthz 200."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix='agenthost-bench-') as scratch:
        data_dir = data_dir or Path(scratch)
        environment = app_environment(data_dir, port, env)
        for email in users:
            subprocess.run([sys.executable, 'main.py', 'users', 'create', '--email', email, '--password',
                            'benchmark'], cwd=ROOT, env=environment, check=True, capture_output=True)
        log = open(Path(scratch) / 'server.log', 'w')  # noqa: SIM115 — closed below
        process = subprocess.Popen(command or [sys.executable, 'main.py'], cwd=ROOT, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            seconds = wait_for_health(f'http://127.0.0.1:{port}/healthz', process)
            yield AppServer(f'http://127.0.0.1:{port}', seconds, process.pid, data_dir)
        finally:
            stop(process)
            log.close()


@contextmanager
def baseline_server(webhook_secret: str) -> Iterator[str]:
    """The bare Starlette endpoint (bench/baseline_app.py) that the webhook ingest row compares against."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix='agenthost-baseline-') as folder:
        environment = {**os.environ, 'BASELINE_DB': str(Path(folder) / 'baseline.db'),
                       'STRIPE_WEBHOOK_SECRET': webhook_secret}
        process = subprocess.Popen([sys.executable, '-m', 'uvicorn', 'bench.baseline_app:app', '--host', '127.0.0.1',
                                    '--port', str(port), '--log-level', 'warning'], cwd=ROOT, env=environment)
        try:
            wait_for_health(f'http://127.0.0.1:{port}/healthz', process)
            yield f'http://127.0.0.1:{port}'
        finally:
            stop(process)
