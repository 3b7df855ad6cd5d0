"""Row `burst`: 500 agents of 50 users deployed at once."""
import asyncio
import time

import httpx

from .measure import post_resending_once
from .world import World


async def worst_loop_lag_ms(client: httpx.AsyncClient) -> float:
    """Reads (and resets) the app's worst event-loop lag since the previous read, from /metrics."""
    text = (await client.get('/metrics')).text
    for line in text.splitlines():
        if line.startswith('agenthost_event_loop_lag_max_seconds '):
            return float(line.split()[1]) * 1000
    raise RuntimeError('the app does not export agenthost_event_loop_lag_max_seconds')


async def measure(world: World, timeout: float = 300) -> dict:
    targets = [(account, agent_id) for account in world.accounts for agent_id in account.agent_ids]
    async with httpx.AsyncClient(base_url=world.app.url, timeout=120,
                                 limits=httpx.Limits(max_connections=100)) as client:
        await worst_loop_lag_ms(client)  # start the window now
        started = time.monotonic()
        resent: list[int] = []
        responses = await asyncio.gather(*[
            post_resending_once(client, f'/api/agents/{agent_id}/deploy', resent,
                                headers={**account.headers, 'Idempotency-Key': f'burst-{agent_id}'})
            for account, agent_id in targets])
        refused = [r for r in responses if r.status_code != 202]
        if refused:
            raise RuntimeError(f'{len(refused)} deploys refused, e.g. {refused[0].status_code} {refused[0].text}')
        job_ids = {str(r.json()['job']['id']) for r in responses}
        deadline = started + timeout
        while True:
            dispatched = {(d.body or {}).get('inputs', {}).get('job_id') for d in world.github.dispatches}
            if job_ids <= dispatched or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        seconds = time.monotonic() - started
        lag = await worst_loop_lag_ms(client)
    dispatches = [(d.body or {}).get('inputs', {}).get('job_id') for d in world.github.dispatches]
    return {'agents': len(targets), 'seconds': seconds, 'all_dispatched': job_ids <= set(dispatches),
            'duplicates': len(dispatches) - len(set(dispatches)), 'max_loop_lag_ms': lag, 'resent': len(resent)}
