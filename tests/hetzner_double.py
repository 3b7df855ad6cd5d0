"""The three parties `deploy/github/hetzner.py` talks to, played over real HTTP on 127.0.0.1: Hetzner Cloud's API,
AgentHost (callbacks and bootstrap, signatures checked with the app's own verifier) and the agent's runtime
(`/readyz` through the endpoint). They share one `Timeline`, so a test can tell what happened before what."""
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler

from services.provisioning import callbacks
from tests.http_double import QuietServer

CONTROL_URL = 'https://agents.example.com'


class Timeline:
    """What every double saw, in order: ('report', status, step), ('readyz', http status), ('hetzner', method, path)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple] = []

    def add(self, *entry) -> None:
        with self.lock:
            self.entries.append(entry)

    def index(self, *entry) -> int:
        with self.lock:
            return self.entries.index(entry)


class Double:
    """Routes each request to `on_<method>(handler, body)`; answers are JSON."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def handle_method(self) -> None:
                length = int(self.headers.get('content-length') or 0)
                getattr(double, f'on_{self.command.lower()}')(self, self.rfile.read(length) if length else b'')

            do_GET = do_POST = do_DELETE = handle_method

        self.server = QuietServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.02}, name=type(self).__name__,
                         daemon=True).start()  # a short poll: each test stops three doubles

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def answer(handler: BaseHTTPRequestHandler, status: int, payload: dict | None) -> None:
        data = json.dumps(payload).encode() if payload is not None else b''
        handler.send_response(status)
        handler.send_header('Content-Type', 'application/json')
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class HetznerDouble(Double):
    """The few Hetzner Cloud endpoints hetzner.py uses. A created server runs at once; a deleted one is still listed
    on the next read (Hetzner deletes in the background), then gone. `on_create` and `on_reset` let a test make the
    runtime ready when the script acts."""
    address = '127.0.0.1'

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(timeline)
        self.servers: dict[int, dict] = {}
        self.calls: list[tuple[str, str, dict | None]] = []
        self.deleting: set[int] = set()
        self.next_id = 100
        self.on_create = self.on_reset = lambda: None

    def add(self, agent_id: str, status: str = 'running') -> int:
        """A server an earlier run left, labelled for `agent_id`."""
        with self.lock:
            server_id, self.next_id = self.next_id, self.next_id + 1
            self.servers[server_id] = {'id': server_id, 'status': status, 'labels': {'agenthost-agent': agent_id},
                                       'public_net': {'ipv4': {'ip': self.address}}}
        return server_id

    def created(self) -> list[dict]:
        """The bodies of POST /servers, in order."""
        return [body for method, path, body in self.calls if (method, path) == ('POST', '/servers')]

    def paths(self, method: str) -> list[str]:
        return [path for called, path, _ in self.calls if called == method]

    def record(self, method: str, path: str, body: dict | None) -> None:
        with self.lock:
            self.calls.append((method, path, body))
        self.timeline.add('hetzner', method, path)

    def server_of(self, path: str) -> dict | None:
        server_id = int(path.split('/')[2])
        with self.lock:
            if server_id in self.deleting:  # listed once more while Hetzner deletes it
                self.deleting.discard(server_id)
                return self.servers.pop(server_id, None)
            return self.servers.get(server_id)

    def on_get(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.record('GET', handler.path, None)
        if handler.path.startswith('/servers?label_selector=agenthost-agent%3D'):
            agent = handler.path.rsplit('%3D', 1)[1]
            with self.lock:
                found = [s for s in self.servers.values() if s['labels']['agenthost-agent'] == agent]
            self.answer(handler, 200, {'servers': found})
            return
        server = self.server_of(handler.path)
        self.answer(handler, 200 if server else 404, {'server': server} if server else {'error': {'code': 'not_found'}})

    def on_post(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        payload = json.loads(body)
        self.record('POST', handler.path, payload)
        if handler.path == '/servers':
            server_id = self.add(payload['labels']['agenthost-agent'])
            self.on_create()
            with self.lock:
                server = {**self.servers[server_id], 'status': 'initializing'}
            self.answer(handler, 201, {'server': server, 'action': {'status': 'running'}, 'root_password': None})
            return
        server_id, action = int(handler.path.split('/')[2]), handler.path.rsplit('/', 1)[1]
        with self.lock:
            self.servers[server_id]['status'] = 'running'
        if action == 'reset':
            self.on_reset()
        self.answer(handler, 201, {'action': {'command': f'{action}_server', 'status': 'running'}})

    def on_delete(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.record('DELETE', handler.path, None)
        server_id = int(handler.path.rsplit('/', 1)[1])
        with self.lock:
            known = server_id in self.servers
            self.deleting.add(server_id)
        self.answer(handler, 200 if known else 404, {'action': {'status': 'running'}} if known else {'error': {}})


class AgentHostDouble(Double):
    """AgentHost's two endpoints for the workflow: callbacks are recorded, bootstrap mints a token; both refuse a bad
    signature with 401 in AgentHost's error shape."""

    def __init__(self, timeline: Timeline, secret: str, agent_id: int) -> None:
        super().__init__(timeline)
        self.secret, self.agent_id = secret, agent_id
        self.reports: list[dict] = []
        self.tokens: list[str] = []

    def on_post(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        try:
            callbacks.verify_callback_signature(body, handler.headers.get('x-agenthost-signature'), self.secret)
        except callbacks.SignatureError as error:
            self.answer(handler, 401, {'error': {'code': error.code, 'message': error.message}})
            return
        if handler.path == '/api/provisioning/bootstrap':
            token = 'rt_' + secrets.token_urlsafe(32)
            with self.lock:
                self.tokens.append(token)
            self.timeline.add('bootstrap', json.loads(body)['job_id'])
            self.answer(handler, 200, {'agent_id': self.agent_id, 'control_url': CONTROL_URL, 'runtime_token': token})
            return
        report = json.loads(body)
        with self.lock:
            self.reports.append(report)
        self.timeline.add('report', report['status'], report['step'])
        self.answer(handler, 200, {'job_id': report['job_id'], 'status': report['status'], 'changed': True})

    def steps(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(report['status'], report['step']) for report in self.reports]


class RuntimeDouble(Double):
    """The agent's runtime behind its endpoint: `/readyz` answers 503 `not_ready_for` more times (forever when None),
    then 200."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(timeline)
        self.not_ready_for: int | None = 0

    def become_ready(self) -> None:
        with self.lock:
            self.not_ready_for = 0

    def on_get(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self.lock:
            ready = self.not_ready_for == 0
            if self.not_ready_for:
                self.not_ready_for -= 1
        self.timeline.add('readyz', 200 if ready else 503)
        if ready:
            self.answer(handler, 200, {'status': 'ready', 'revision': 1})
        else:
            self.answer(handler, 503, {'status': 'not_ready', 'reason': 'no config yet'})
