"""A GitHub test double: the Actions endpoints AgentHost calls, served over real HTTP on 127.0.0.1.

It serves the workflow dispatch, the workflow's run list, one run, and run cancellation; records every request;
can be told how to answer the next dispatches (transient and permanent failures, timeouts, resets, 204 servers,
Enterprise servers that reject `return_run_details`, a hang); and builds signed `workflow_run` webhook deliveries.
Point the app at it with GITHUB_API_URL=<double.url>.
"""
import hashlib
import hmac
import json
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from tests.http_double import HttpDouble

REPOSITORY = 'acme/infra'
WORKFLOW = 'provision-agent.yml'
WORKFLOW_ID = 161335
WORKFLOW_PATH = f'.github/workflows/{WORKFLOW}'
WORKFLOW_FILE = Path(__file__).resolve().parent.parent / 'deploy' / 'github' / WORKFLOW


def declared_inputs() -> set[str]:
    """The `workflow_dispatch` inputs the shipped workflow declares: GitHub answers 422 to any other."""
    document = yaml.safe_load(WORKFLOW_FILE.read_text())
    triggers = document.get('on', document.get(True))  # YAML 1.1 reads a bare `on` as True
    return set(triggers['workflow_dispatch']['inputs'])


def github_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace('Z', '+00:00'))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def created_matches(created_at: str, query: str) -> bool:
    """GitHub's date-range filter for `created`: `>=T`, `>T`, `<=T`, `<T`, `A..B` or a bare date/time (that day)."""
    at = _parse_time(created_at)
    for operator, test in (('>=', at.__ge__), ('<=', at.__le__), ('>', at.__gt__), ('<', at.__lt__)):
        if query.startswith(operator):
            return test(_parse_time(query[len(operator):]))
    if '..' in query:
        low, high = query.split('..', 1)
        return (low == '*' or at >= _parse_time(low)) and (high == '*' or at <= _parse_time(high))
    return github_time(at)[:10] == query[:10]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    answered: int | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Answer:
    """How to answer one dispatch. `creates_run`: GitHub started the run even though the answer says otherwise."""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ''
    creates_run: bool = False
    delay: float = 0.0
    reset: bool = False
    hang: bool = False


# The failures AgentHost must survive, by name (tests parametrize over these).
TRANSIENT = {
    'server error 502': Answer(502, message='Server Error'),
    'server error 503 after starting the run': Answer(503, message='Service Unavailable', creates_run=True),
    'rate limit 429': Answer(429, {'retry-after': '0'}, 'API rate limit exceeded'),
    'secondary rate limit 403': Answer(403, {'retry-after': '0'},
                                       'You have exceeded a secondary rate limit. Please wait a few minutes.'),
    'primary rate limit 403': Answer(403, {'x-ratelimit-remaining': '0', 'x-ratelimit-reset': 'now'},
                                     'API rate limit exceeded for user ID 1.'),
    'timeout after starting the run': Answer(200, creates_run=True, delay=1.5),
    'connection reset after starting the run': Answer(creates_run=True, reset=True),
}
PERMANENT = {
    401: (Answer(401, message='Bad credentials'), 'GITHUB_TOKEN is wrong, expired or revoked'),
    403: (Answer(403, message='Resource not accessible by personal access token'),
          'the token lacks Actions: write on acme/infra'),
    404: (Answer(404, message='Not Found'), 'GitHub knows no workflow provision-agent.yml in acme/infra'),
    422: (Answer(422, message="Unexpected inputs provided: ['agent_id']"), 'check that GITHUB_REF (main) exists'),
}


class GitHubDouble(HttpDouble):
    name = 'github-double'

    def __init__(self, *, webhook_secret: str = 'github-webhook-secret') -> None:
        self.requests: list[Recorded] = []
        self.runs: dict[int, dict] = {}
        self.script: list[Answer] = []
        self.default = Answer(200)
        self.rejects_run_details = False
        self.webhook_secret = webhook_secret
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.next_run_id = 9000
        self.refs = {'main'}
        self.workflow_exists = True
        self.token_scopes = 'repo, workflow'
        """What a classic token's X-OAuth-Scopes header says; None for a fine-grained token (no such header)."""
        self.can_push = True
        self.inputs = declared_inputs()
        self.errors: list[str] = []
        """Exceptions raised in the double's own code: `close()` fails the test with them."""
        self.serve()

    def close(self) -> None:
        """Stop serving; fail the test if the double's own code raised (a broken double must not look like a
        dropped connection)."""
        self.release.set()
        self.stop_serving()
        if self.errors:
            raise AssertionError('the GitHub double failed while answering:\n' + '\n'.join(self.errors))

    def on_get(self, request: BaseHTTPRequestHandler) -> None:
        self._handle(request, 'GET')

    def on_post(self, request: BaseHTTPRequestHandler) -> None:
        self._handle(request, 'POST')

    # --- scripting -----------------------------------------------------------------------------------------------

    def fail_next(self, *answers: Answer) -> None:
        """Answer the next dispatches with these, in order; later ones get the default (200 with run details)."""
        with self.lock:
            self.script.extend(answers)

    # --- what happened -------------------------------------------------------------------------------------------

    @property
    def dispatches(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == 'POST' and r.path.endswith('/dispatches')]

    def runs_for(self, job_id: int, action: str = 'provision') -> list[dict]:
        return [run for run in self.runs.values() if run['display_title'] == f'agenthost {action} {job_id}']

    @property
    def cancels(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith('/cancel')]

    def set_run(self, run_id: int, *, status: str, conclusion: str | None = None) -> dict:
        run = self.runs[run_id]
        run.update(status=status, conclusion=conclusion, updated_at=github_time(datetime.now(UTC)))
        return run

    # --- webhooks ------------------------------------------------------------------------------------------------

    def workflow_run_delivery(self, run: dict, action: str, *, secret: str | None = None,
                              repository: str = REPOSITORY, delivery: str | None = None) -> tuple[bytes, dict]:
        """A signed `workflow_run` webhook delivery for `run` (body, headers), shaped like GitHub's example."""
        owner, name = repository.split('/', 1)
        payload = {
            'action': action, 'workflow_run': run,
            'workflow': {'id': run.get('workflow_id'), 'node_id': 'W_kwDOtest', 'name': run.get('name'),
                         'path': run.get('path'), 'state': 'active', 'created_at': '2026-01-01T00:00:00.000Z',
                         'updated_at': '2026-01-01T00:00:00.000Z',
                         'url': f'https://api.github.com/repos/{repository}/actions/workflows/{run.get("workflow_id")}',
                         'html_url': f'https://github.com/{repository}/blob/main/{run.get("path")}',
                         'badge_url': f'https://github.com/{repository}/workflows/{run.get("name")}/badge.svg'},
            'repository': {'id': 186853002, 'node_id': 'MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=', 'name': name,
                           'full_name': repository, 'private': True,
                           'owner': {'login': owner, 'id': 21031067, 'type': 'Organization'},
                           'html_url': f'https://github.com/{repository}', 'default_branch': 'main'},
            'organization': {'login': owner, 'id': 21031067},
            'sender': {'login': 'octocat', 'id': 1, 'type': 'User'},
        }
        body = json.dumps(payload).encode()
        signature = hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
        return body, {'X-GitHub-Event': 'workflow_run', 'X-GitHub-Delivery': delivery or str(uuid.uuid4()),
                      'X-Hub-Signature-256': f'sha256={signature}', 'Content-Type': 'application/json'}

    def send_workflow_run(self, app_url: str, run: dict, action: str, **options) -> int:
        """Deliver a signed `workflow_run` webhook to the app at `app_url` over HTTP, as GitHub does; the status."""
        body, headers = self.workflow_run_delivery(run, action, **options)
        return httpx.post(f'{app_url}/api/webhooks/github', content=body, headers=headers, timeout=10).status_code

    # --- serving -------------------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        try:
            self._answer(handler, method)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the app gave up waiting (a scripted delay past its timeout): the network's doing, not the double's
        except Exception:
            self.errors.append(traceback.format_exc())
            raise

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get('content-length') or 0)
        raw = handler.rfile.read(length) if length else b''
        body = json.loads(raw) if raw else None
        path = handler.path.split('?')[0]
        record = Recorded(method, handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
        with self.lock:
            self.requests.append(record)
        prefix = f'/repos/{REPOSITORY}/actions'
        if handler.headers.get('authorization') != 'Bearer ghp_test_token':
            return self._send(handler, record, 401, {'message': 'Bad credentials'})
        if method == 'GET' and (answer := self._setup_answer(path)) is not None:
            return self._send(handler, record, *answer)
        if method == 'POST' and path == f'{prefix}/workflows/{WORKFLOW}/dispatches':
            return self._dispatch(handler, record, body or {})
        if method == 'GET' and path == f'{prefix}/workflows/{WORKFLOW}/runs':
            return self._send(handler, record, 200, self._run_list(handler.path))
        if path.startswith(f'{prefix}/runs/'):
            parts = path.removeprefix(f'{prefix}/runs/').split('/')
            run = self.runs.get(int(parts[0])) if parts[0].isdigit() else None
            if run is None:
                return self._send(handler, record, 404, {'message': 'Not Found'})
            if method == 'GET' and len(parts) == 1:
                return self._send(handler, record, 200, run)
            if method == 'POST' and parts[1:] == ['cancel']:
                if run['status'] == 'completed':
                    return self._send(handler, record, 409, {'message': 'Cannot cancel a workflow run that is '
                                                                        'completed.'})
                run.update(status='completed', conclusion='cancelled')
                return self._send(handler, record, 202, {})
        return self._send(handler, record, 404, {'message': 'Not Found'})

    def _setup_answer(self, path: str) -> tuple[int, dict, dict] | None:
        """The repository, the workflow file and a ref, as the admin setup checklist reads them."""
        scopes = {} if self.token_scopes is None else {'X-OAuth-Scopes': self.token_scopes}
        if path == f'/repos/{REPOSITORY}':
            return 200, {'full_name': REPOSITORY, 'permissions': {'admin': False, 'push': self.can_push,
                                                                  'pull': True}}, scopes
        if path == f'/repos/{REPOSITORY}/actions/workflows/{WORKFLOW}':
            if not self.workflow_exists:
                return 404, {'message': 'Not Found'}, scopes
            return 200, {'id': 161335, 'path': f'.github/workflows/{WORKFLOW}', 'state': 'active'}, scopes
        if path.startswith(f'/repos/{REPOSITORY}/commits/'):
            ref = path.removeprefix(f'/repos/{REPOSITORY}/commits/')
            if ref not in self.refs:
                return 422, {'message': f'No commit found for SHA: {ref}'}, scopes
            return 200, {'sha': '6dcb09b5b57875f334f61aebed695e2e4193db5e'}, scopes
        return None

    def _run_list(self, target: str) -> dict:
        """The workflow's runs, newest first, filtered by `event` and `created` and cut to `per_page` (30 default)."""
        query = {name: values[-1] for name, values in parse_qs(urlsplit(target).query).items()}
        runs = sorted(self.runs.values(), key=lambda run: -run['id'])
        if 'event' in query:
            runs = [run for run in runs if run['event'] == query['event']]
        if 'created' in query:
            runs = [run for run in runs if created_matches(run['created_at'], query['created'])]
        per_page = min(100, int(query.get('per_page', 30)))
        return {'total_count': len(runs), 'workflow_runs': runs[:per_page]}

    def _dispatch(self, handler: BaseHTTPRequestHandler, record: Recorded, body: dict) -> None:
        if self.rejects_run_details and 'return_run_details' in body:
            return self._send(handler, record, 422, {'message': 'Invalid request.\n\n"return_run_details" is not a '
                                                                'permitted key.'})
        if body.get('ref') not in self.refs:
            return self._send(handler, record, 422, {'message': f'No ref found for: {body.get("ref")}'})
        unexpected = sorted(set(body.get('inputs') or {}) - self.inputs)
        if unexpected:
            return self._send(handler, record, 422, {'message': f'Unexpected inputs provided: {unexpected}'})
        with self.lock:
            answer = self.script.pop(0) if self.script else self.default
        inputs = body.get('inputs') or {}
        run = None
        if answer.creates_run or answer.status in (200, 204):
            run = self._create_run(inputs)
        if answer.hang:
            self.release.wait(30)
            return
        if answer.delay:
            time.sleep(answer.delay)
        if answer.reset:
            handler.close_connection = True
            record.answered = 0
            return  # no answer at all: the client sees the connection closed
        if answer.status == 200 and run is not None:
            if 'return_run_details' not in body:
                return self._send(handler, record, 204, None)
            return self._send(handler, record, 200, {'workflow_run_id': run['id'], 'run_url': run['url'],
                                                     'html_url': run['html_url']})
        if answer.status == 204:
            return self._send(handler, record, 204, None)
        return self._send(handler, record, answer.status, {'message': answer.message}, answer.headers)

    def _create_run(self, inputs: dict) -> dict:
        with self.lock:
            self.next_run_id += 1
            run_id = self.next_run_id
        now = github_time(datetime.now(UTC))
        run = {'id': run_id, 'name': 'AgentHost provisioning', 'node_id': f'WFR_kwLO{run_id}',
               'head_branch': 'main', 'head_sha': '6dcb09b5b57875f334f61aebed695e2e4193db5e',
               'path': WORKFLOW_PATH, 'display_title': f'agenthost {inputs.get("action")} {inputs.get("job_id")}',
               'run_number': run_id - 9000, 'run_attempt': 1, 'event': 'workflow_dispatch',
               'status': 'queued', 'conclusion': None, 'workflow_id': WORKFLOW_ID, 'check_suite_id': run_id * 7,
               'url': f'{self.url}/repos/{REPOSITORY}/actions/runs/{run_id}',
               'html_url': f'https://github.com/{REPOSITORY}/actions/runs/{run_id}',
               'created_at': now, 'updated_at': now, 'run_started_at': now,
               'check_suite_node_id': f'CS_kwDO{run_id}', 'pull_requests': [], 'previous_attempt_url': None,
               'check_suite_url': f'{self.url}/repos/{REPOSITORY}/check-suites/{run_id * 7}',
               'jobs_url': f'{self.url}/repos/{REPOSITORY}/actions/runs/{run_id}/jobs',
               'logs_url': f'{self.url}/repos/{REPOSITORY}/actions/runs/{run_id}/logs',
               'artifacts_url': f'{self.url}/repos/{REPOSITORY}/actions/runs/{run_id}/artifacts',
               'cancel_url': f'{self.url}/repos/{REPOSITORY}/actions/runs/{run_id}/cancel',
               'rerun_url': f'{self.url}/repos/{REPOSITORY}/actions/runs/{run_id}/rerun',
               'head_commit': {'id': '6dcb09b5b57875f334f61aebed695e2e4193db5e', 'message': 'Update workflow',
                               'timestamp': now, 'author': {'name': 'Octo Cat', 'email': 'octocat@github.com'}},
               'head_repository': {'id': 186853002, 'full_name': REPOSITORY},
               'workflow_url': f'{self.url}/repos/{REPOSITORY}/actions/workflows/{WORKFLOW_ID}',
               'actor': {'login': 'agenthost-bot', 'id': 2, 'type': 'User'},
               'triggering_actor': {'login': 'agenthost-bot', 'id': 2, 'type': 'User'},
               'repository': {'id': 186853002, 'full_name': REPOSITORY}, 'inputs': inputs}
        self.runs[run_id] = run
        return run

    def add_run(self, **fields) -> dict:
        """A run GitHub holds that AgentHost did not start (another workflow, an old run, a push): `fields` override."""
        run = self._create_run({})
        run.update(fields)
        return run

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, record: Recorded, status: int, payload: dict | None,
              headers: dict[str, str] | None = None) -> None:
        record.answered = status
        data = b'' if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        for name, value in (headers or {}).items():
            if name == 'x-ratelimit-reset' and value == 'now':
                value = str(int(time.time()))  # epoch seconds, as GitHub sends it
            handler.send_header(name, value)
        if payload is not None:
            handler.send_header('Content-Type', 'application/json')
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        if data:
            handler.wfile.write(data)
