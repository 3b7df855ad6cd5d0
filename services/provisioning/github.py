"""The GitHub REST calls of provisioning: dispatch the workflow, find, read and cancel its runs.

Every failure becomes a `GitHubError` that says whether trying again can help (`transient`), whether the request
may already have had its effect (`maybe_sent`: a timeout or a 5xx after the body went out), how long GitHub asked
us to wait (`wait`), and, for permanent failures, what the operator has to fix.
"""
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from ..platform.errors import DomainError
from ..platform.retry import RetryPolicy
from ..platform.settings import Settings, get_settings
from .run_names import run_name

API_VERSION = '2022-11-28'
SECONDARY_LIMIT_WAIT = 60.0
"""GitHub's advice when a secondary rate limit names no wait: at least a minute (capped by our own maximum)."""


class GitHubError(DomainError):
    def __init__(self, message: str, *, transient: bool, maybe_sent: bool = False, wait: float | None = None,
                 status: int | None = None) -> None:
        super().__init__('GITHUB_UNAVAILABLE' if transient else 'GITHUB_REFUSED', message)
        self.transient = transient
        self.maybe_sent = maybe_sent
        self.wait = wait
        self.status = status


@dataclass(frozen=True)
class Run:
    id: str
    html_url: str
    status: str = 'queued'
    conclusion: str | None = None
    title: str = ''


def dispatch_retry(settings: Settings) -> RetryPolicy:
    """How a transiently failed dispatch is retried: the operator's settings, in the one retry policy."""
    return RetryPolicy(base_seconds=settings.github_retry_base_seconds, cap_seconds=settings.github_retry_max_seconds,
                       attempts=settings.github_dispatch_attempts)


_clients: dict[tuple[str, float], httpx.Client] = {}
_clients_lock = threading.Lock()
_without_run_details: set[str] = set()
"""API bases (older GitHub Enterprise) that rejected `return_run_details`; dispatched without it from then on."""


def _client(settings: Settings) -> httpx.Client:
    """One pooled client per API base, shared by the worker threads (httpx clients are thread-safe)."""
    key = (settings.github_api_url, settings.github_timeout_seconds)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = httpx.Client(base_url=settings.github_api_url, timeout=settings.github_timeout_seconds,
                                         headers={'Accept': 'application/vnd.github+json',
                                                  'X-GitHub-Api-Version': API_VERSION,
                                                  'User-Agent': 'AgentHost'})
        return _clients[key]


def close_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class GitHub:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.repo = self.settings.github_repository
        self.workflow = self.settings.github_workflow

    def dispatch(self, *, job_id: int, agent_id: int, action: str, region: str, size: str,
                 callback_url: str) -> Run | None:
        """Start the workflow for a job; the run when GitHub names it (200), None when it does not (204)."""
        inputs = {'job_id': str(job_id), 'agent_id': str(agent_id), 'action': action, 'region': region,
                  'size': size, 'callback_url': callback_url}
        body: dict = {'ref': self.settings.github_ref, 'inputs': inputs}
        api = self.settings.github_api_url
        if api not in _without_run_details:
            body['return_run_details'] = True
        path = f'/repos/{self.repo}/actions/workflows/{self.workflow}/dispatches'
        response = self._request('POST', path, json=body, what='start the workflow')
        if response.status_code in (400, 422) and 'return_run_details' in body \
                and 'return_run_details' in response.text:
            _without_run_details.add(api)  # an older GitHub Enterprise: call again without the field
            del body['return_run_details']
            response = self._request('POST', path, json=body, what='start the workflow')
        if response.status_code == 200:
            data = _json(response)
            run_id = data.get('workflow_run_id')
            return Run(id=str(run_id), html_url=str(data.get('html_url') or '')) if run_id else None
        if response.status_code == 204:
            return None
        raise self._refusal(response, 'start the workflow')

    def find_run(self, *, action: str, job_id: int, created_after: datetime) -> Run | None:
        """The run of a job, found by its name among the workflow's runs created since `created_after` (UTC)."""
        since = (created_after - timedelta(minutes=5)).strftime('%Y-%m-%dT%H:%M:%SZ')
        response = self._request('GET', f'/repos/{self.repo}/actions/workflows/{self.workflow}/runs',
                                 params={'event': 'workflow_dispatch', 'created': f'>={since}', 'per_page': 100},
                                 what='list the workflow runs')
        if response.status_code != 200:
            raise self._refusal(response, 'list the workflow runs')
        wanted = run_name(action, job_id)
        for data in _json(response).get('workflow_runs', []):
            if wanted in (data.get('display_title'), data.get('name')):
                return _run(data)
        return None

    def get_run(self, run_id: str) -> Run | None:
        response = self._request('GET', f'/repos/{self.repo}/actions/runs/{run_id}', what=f'read run {run_id}')
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refusal(response, f'read run {run_id}')
        return _run(_json(response))

    def cancel_run(self, run_id: str) -> bool:
        """Ask GitHub to cancel a run; False when it has already finished (409)."""
        response = self._request('POST', f'/repos/{self.repo}/actions/runs/{run_id}/cancel',
                                 what=f'cancel run {run_id}')
        if response.status_code in (200, 202, 204):
            return True
        if response.status_code == 409:
            return False
        raise self._refusal(response, f'cancel run {run_id}')

    def can_dispatch(self) -> tuple[bool, str]:
        """Whether the token can reach the repository and push to it (what a dispatch needs), and why not."""
        response = self._request('GET', f'/repos/{self.repo}', what=f'read {self.repo}')
        if response.status_code != 200:
            return False, self._refusal(response, f'read {self.repo}').message
        scopes = response.headers.get('x-oauth-scopes')
        if scopes is not None and not {'repo', 'workflow'} & {scope.strip() for scope in scopes.split(',')}:
            return False, f'the classic token has the scopes "{scopes}"; dispatching needs the repo scope.'
        if not (_json(response).get('permissions') or {}).get('push', True):
            return False, f'the token can read {self.repo} but not write to it: it needs Actions: write.'
        kind = 'classic token with repo scope' if scopes is not None else \
            'token with write access (a fine-grained token also needs Actions: write, which the first deploy checks)'
        return True, f'{self.repo} reachable, {kind}'

    def workflow_exists(self) -> tuple[bool, str]:
        response = self._request('GET', f'/repos/{self.repo}/actions/workflows/{self.workflow}',
                                 what=f'read the workflow {self.workflow}')
        if response.status_code == 200:
            state = _json(response).get('state', 'active')
            if state != 'active':
                return False, f'{self.workflow} is {state} in {self.repo}: enable it under Actions.'
            return True, f'{_json(response).get("path", self.workflow)} in {self.repo}'
        if response.status_code == 404:
            return False, (f'there is no workflow {self.workflow} in {self.repo}: copy deploy/github/'
                           f'provision-agent.yml to .github/workflows/ on the default branch.')
        return False, self._refusal(response, f'read the workflow {self.workflow}').message

    def ref_exists(self) -> tuple[bool, str]:
        ref = self.settings.github_ref
        response = self._request('GET', f'/repos/{self.repo}/commits/{ref}', what=f'read the ref {ref}')
        if response.status_code == 200:
            return True, f'{ref} exists in {self.repo}'
        if response.status_code in (404, 422):
            return False, f'GITHUB_REF={ref} is no branch, tag or commit of {self.repo}: set an existing one.'
        return False, self._refusal(response, f'read the ref {ref}').message

    def _request(self, method: str, path: str, *, what: str, **kwargs) -> httpx.Response:
        headers = {'Authorization': f'Bearer {self.settings.github_token}'}
        try:
            return _client(self.settings).request(method, path, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise GitHubError(f'Could not reach GitHub at {self.settings.github_api_url} to {what}: '
                              f'{_describe(error)}.', transient=True) from error
        except httpx.HTTPError as error:  # timeouts while waiting for the answer, resets: the request may have landed
            raise GitHubError(f'No answer from GitHub to {what}: {_describe(error)}.', transient=True,
                              maybe_sent=method == 'POST') from error

    def _refusal(self, response: httpx.Response, what: str) -> GitHubError:
        status, detail = response.status_code, _message(response)
        answered = f'GitHub answered {status}{": " + detail if detail else ""}'
        wait = _requested_wait(response)
        if status >= 500:
            return GitHubError(f'{answered} when asked to {what}.', transient=True, maybe_sent=True, wait=wait,
                               status=status)
        if status == 429 or (status == 403 and (wait is not None or 'rate limit' in detail.lower())):
            if wait is None:
                wait = min(SECONDARY_LIMIT_WAIT, self.settings.github_retry_max_seconds)
            return GitHubError(f'{answered} (rate limited) when asked to {what}.', transient=True, wait=wait,
                               status=status)
        repo, workflow = self.repo, self.workflow
        fixes = {
            401: 'GITHUB_TOKEN is wrong, expired or revoked: create a new token with Actions: write on '
                 f'{repo} and set GITHUB_TOKEN.',
            403: f'the token lacks Actions: write on {repo}. Give it "Actions: read and write" (fine-grained '
                 'token or GitHub App) or the repo scope (classic token).',
            404: f'GitHub knows no workflow {workflow} in {repo} for this token. Check GITHUB_REPOSITORY and '
                 'GITHUB_WORKFLOW, that the workflow file is on the default branch, and that the token can see '
                 'the repository.',
            422: f'check that GITHUB_REF ({self.settings.github_ref}) exists in {repo} and that its {workflow} '
                 'has a workflow_dispatch trigger with the inputs job_id, agent_id, action, region, size and '
                 'callback_url.',
        }
        fix = fixes.get(status, 'see the message above; this is not a failure that goes away by waiting.')
        return GitHubError(f'{answered} when asked to {what}: {fix}', transient=False, status=status)


def _run(data: dict) -> Run:
    return Run(id=str(data['id']), html_url=str(data.get('html_url') or ''), status=str(data.get('status') or ''),
               conclusion=data.get('conclusion'), title=str(data.get('display_title') or data.get('name') or ''))


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message(response: httpx.Response) -> str:
    return str(_json(response).get('message') or response.reason_phrase or '').strip()


def _requested_wait(response: httpx.Response) -> float | None:
    """Seconds GitHub asked us to wait: `Retry-After` first, else the rate-limit reset when none are left."""
    retry_after = response.headers.get('retry-after', '').strip()
    if retry_after:
        if retry_after.isdigit():
            return float(retry_after)
        try:
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = response.headers.get('x-ratelimit-reset', '')
    if response.headers.get('x-ratelimit-remaining') == '0' and reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return None


def _describe(error: Exception) -> str:
    return f'{type(error).__name__}{": " + str(error) if str(error) else ""}'
