"""AgentHost's runtime control endpoints as a test double, over real HTTP on 127.0.0.1.

`GET /api/runtime/config[?after=N]` answers the latest published config, or long-polls for a newer one (204 when
none came in `long_poll_seconds`); `POST /api/runtime/heartbeat` records the heartbeat and answers the latest
revision. Both need `Authorization: Bearer <token>`. Tests publish configs (usable or not) and read heartbeats.
"""
import copy
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.http_double import HttpDouble, send_json
from tests.live_server import INHERITED_VARIABLES_TO_DROP, REPO_ROOT, free_port, log_tail, stop

RUNTIME_TOKEN = 'runtime-token-for-tests'


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def agent_config(*, provider_url: str, kind: str = 'openai', model: str = 'gpt-double',
                 system_prompt: str = 'You are the test agent.', api_key: str = 'provider-secret-key',
                 keys: dict[int, str] | None = None, heartbeat_seconds: float = 0.2) -> dict:
    """A config answer without its revision (the double numbers what it publishes)."""
    return {'agent': {'id': 1, 'name': 'Test agent', 'model': model, 'system_prompt': system_prompt},
            'provider': {'kind': kind, 'base_url': provider_url, 'api_key': api_key},
            'api_keys': [{'id': key_id, 'sha256': key_hash(key)} for key_id, key in (keys or {}).items()],
            'heartbeat_seconds': heartbeat_seconds}


class RuntimeControlDouble(HttpDouble):
    name = 'runtime-control-double'

    def __init__(self, *, token: str = RUNTIME_TOKEN, long_poll_seconds: float = 25, port: int = 0) -> None:
        self.token = token
        self.long_poll_seconds = long_poll_seconds
        self.config: dict | None = None
        self.revision = 0
        self.heartbeats: list[dict] = []
        self.log_batches: list[dict] = []
        self.config_requests: list[str] = []
        self.changed = threading.Condition()
        self.down = False
        self.serve(port)

    def close(self) -> None:
        with self.changed:
            self.down = True
            self.changed.notify_all()
        self.stop_serving()

    def on_get(self, request: BaseHTTPRequestHandler) -> None:
        self.answer_config(request)

    def on_post(self, request: BaseHTTPRequestHandler) -> None:
        if urlsplit(request.path).path == '/api/runtime/logs':
            self.answer_log_lines(request)
        else:
            self.answer_heartbeat(request)

    def publish(self, config: dict) -> int:
        """A new revision of `config` (which may be unusable on purpose); wakes every waiting long poll."""
        with self.changed:
            self.revision += 1
            self.config = {**copy.deepcopy(config), 'revision': self.revision}
            self.changed.notify_all()
            return self.revision

    def heartbeats_so_far(self) -> list[dict]:
        with self.changed:
            return list(self.heartbeats)

    def log_lines_so_far(self) -> list[dict]:
        with self.changed:
            return [line for batch in self.log_batches for line in batch['lines']]

    def authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        if handler.headers.get('Authorization') == f'Bearer {self.token}':
            return True
        send_json(handler, 401, {'error': {'code': 'INVALID_RUNTIME_TOKEN', 'message': 'unknown runtime token'}})
        return False

    def newer_config(self, after: int | None) -> dict | None:
        """The latest config if it is newer than `after`, waiting for one up to the long-poll limit."""
        deadline = time.monotonic() + self.long_poll_seconds
        with self.changed:
            while not self.down:
                if self.config is not None and (after is None or self.revision > after):
                    return self.config
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)
        return None

    def answer_config(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        if url.path != '/api/runtime/config':
            send_json(handler, 404, {'error': {'code': 'NOT_FOUND', 'message': url.path}})
            return
        if not self.authorised(handler):
            return
        after = parse_qs(url.query).get('after', [None])[0]
        self.config_requests.append(url.query)
        config = self.newer_config(int(after) if after is not None else None)
        if config is None:
            handler.send_response(204)
            handler.send_header('Content-Length', '0')
            handler.end_headers()
            return
        send_json(handler, 200, config)

    def authorised_body(self, handler: BaseHTTPRequestHandler) -> dict | None:
        """The request's JSON body, or None once a 401 went out for a wrong runtime token."""
        body = json.loads(handler.rfile.read(int(handler.headers.get('Content-Length', 0))) or b'{}')
        return body if self.authorised(handler) else None

    def answer_heartbeat(self, handler: BaseHTTPRequestHandler) -> None:
        if (body := self.authorised_body(handler)) is None:
            return
        with self.changed:
            self.heartbeats.append(body)
            revision = self.revision
        send_json(handler, 200, {'revision': revision})

    def answer_log_lines(self, handler: BaseHTTPRequestHandler) -> None:
        if (body := self.authorised_body(handler)) is None:
            return
        with self.changed:
            self.log_batches.append(body)
        send_json(handler, 200, {'added': len(body.get('lines', []))})


@dataclass
class RuntimeProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return log_tail(self.log_path)


def wait_until_alive(runtime: RuntimeProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if runtime.process.poll() is not None:
                raise RuntimeError(f'the runtime exited with {runtime.process.returncode}:\n{runtime.log()}')
            try:
                if client.get(f'{runtime.url}/healthz').status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # bounded by the deadline
    raise RuntimeError(f'the runtime did not answer /healthz within {timeout} s:\n{runtime.log()}')


@contextmanager
def runtime_process(control_url: str, log_dir: Path, *, token: str = RUNTIME_TOKEN,
                    env: dict[str, str] | None = None) -> Iterator[RuntimeProcess]:
    """`python -m runtime` from the repository root, as AgentHost or an image starts it, on a free port."""
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if name not in INHERITED_VARIABLES_TO_DROP}
    environment.update(AGENTHOST_URL=control_url, AGENTHOST_RUNTIME_TOKEN=token, HOST='127.0.0.1', PORT=str(port),
                       PYTHONUNBUFFERED='1', **(env or {}))
    log_path = log_dir / f'runtime-{port}.log'
    with open(log_path, 'w') as log:
        process = subprocess.Popen([sys.executable, '-m', 'runtime'], cwd=REPO_ROOT, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT)
        runtime = RuntimeProcess(f'http://127.0.0.1:{port}', process, log_path)
        try:
            wait_until_alive(runtime)
            yield runtime
        finally:
            stop(process)


@pytest.fixture
def control() -> Iterator[RuntimeControlDouble]:
    """A fresh control-plane double for one test."""
    double = RuntimeControlDouble()
    yield double
    double.close()
