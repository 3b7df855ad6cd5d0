"""Row `deploy to dispatch`: from POST /api/agents/{id}/deploy to the dispatch arriving at the GitHub double."""
import asyncio
import time

import httpx

from .measure import percentile
from .world import World

DEPLOYS = 200


async def wait_for_dispatch(world: World, job_id: int, timeout: float = 30) -> float:
    """When (time.monotonic, stamped by the double on arrival) the dispatch for `job_id` arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in reversed(world.github.dispatches):
            if (request.body or {}).get('inputs', {}).get('job_id') == str(job_id):
                return request.at
        await asyncio.sleep(0.0005)
    raise TimeoutError(f'job {job_id} was not dispatched within {timeout} s')


async def measure(world: World, deploys: int = DEPLOYS) -> dict:
    targets = [(account, agent_id) for account in world.accounts for agent_id in account.agent_ids][:deploys]
    latencies = []
    async with httpx.AsyncClient(base_url=world.app.url, timeout=30) as client:
        for account, agent_id in targets:
            started = time.monotonic()
            response = await client.post(f'/api/agents/{agent_id}/deploy', headers=account.headers)
            response.raise_for_status()
            arrived = await wait_for_dispatch(world, response.json()['job']['id'])
            latencies.append(arrived - started)
    return {'deploys': len(latencies), 'p50_ms': percentile(latencies, 50) * 1000,
            'p99_ms': percentile(latencies, 99) * 1000}
