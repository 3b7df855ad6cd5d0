"""Row `config apply`: from saving a new system prompt in AgentHost to the agent's runtime serving it.

The real app runs with `PROVISIONER=local` and a model provider double (tests/) as its OpenAI-compatible provider;
one entitled account deploys one agent, which runs as `python -m runtime` on this machine. Each round PATCHes the
agent's system prompt through the JSON API and times until the runtime's `/readyz` names the new revision: the
save, the long poll's wake-up, the config answer and the runtime's swap. Run alone with `python -m bench.config_apply`.
"""
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.model_provider_double import ModelProviderDouble

from .measure import percentile, run_alone
from .servers import app_server
from .world import Account, prepare_accounts

ROUNDS = 30
POLL_SECONDS = 0.002


def wait_for(check: Callable[[], object], what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f'{what} did not happen within {timeout} s')


@contextmanager
def local_agent() -> Iterator[tuple[httpx.Client, int, str]]:
    """The app with one running local agent: a client authenticated as its owner, the agent id, its endpoint."""
    with ExitStack() as stack:
        provider = ModelProviderDouble()
        stack.callback(provider.close)
        settings = {'PROVISIONER': 'local', 'OPENAI_BASE_URL': provider.openai_url, 'AGENT_MODELS': 'gpt-4.1'}
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='agenthost-bench-config-')))
        account: Account = prepare_accounts(data_dir, settings, users=1, agents_each=1)[0]
        app = stack.enter_context(app_server(settings, data_dir=data_dir))
        client = stack.enter_context(httpx.Client(base_url=app.url, headers=account.headers, timeout=30))
        agent_id = account.agent_ids[0]
        client.post(f'/api/agents/{agent_id}/deploy').raise_for_status()
        endpoint = wait_for(lambda: running_endpoint(client, agent_id), 'the agent running locally', timeout=120)
        yield client, agent_id, str(endpoint)


def running_endpoint(client: httpx.Client, agent_id: int) -> str | None:
    agent = client.get(f'/api/agents/{agent_id}').json()
    return agent.get('endpoint_url') if agent['status'] == 'running' else None


def served_revision(endpoint: str) -> int | None:
    answer = httpx.get(f'{endpoint}/readyz', timeout=5)
    return answer.json().get('revision') if answer.status_code == 200 else None


def measure_once(rounds: int = ROUNDS) -> list[float]:
    with local_agent() as (client, agent_id, endpoint):
        wait_for(lambda: served_revision(endpoint), 'the first config applied')
        seconds = []
        for number in range(rounds):
            started = time.perf_counter()
            answer = client.patch(f'/api/agents/{agent_id}', json={'system_prompt': f'You are bench agent {number}.'})
            answer.raise_for_status()
            revision = answer.json()['config_revision']
            wait_for(lambda wanted=revision: (served_revision(endpoint) or 0) >= wanted, f'revision {revision} applied')
            seconds.append(time.perf_counter() - started)
        return seconds


def measure(runs: int) -> dict:
    results = [measure_once() for _ in range(runs)]
    return {'p50_ms': statistics.median(percentile(run, 50) * 1000 for run in results),
            'p95_ms': statistics.median(percentile(run, 95) * 1000 for run in results),
            'rounds': len(results[0]), 'runs': runs}


def row(result: dict) -> tuple[str, str, str, str, str]:
    return ('config apply', f'p50 {result["p50_ms"]:.0f} ms, p95 {result["p95_ms"]:.0f} ms '
                            f'({result["rounds"]} prompt edits of a running local agent)',
            'p95 < 1 s (aim p50 < 100 ms)', f'{result["p95_ms"] / 1000:.2f}', str(result['runs']))


if __name__ == '__main__':
    run_alone(__doc__, measure, row)
