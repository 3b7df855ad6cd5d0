"""Row `callback to browser`: a signed callback until its message is visible in an open agent page (Chromium)."""
import json
import time

import httpx

from services.provisioning.callbacks import sign

from .browser import chromium, log_in, wait_for_handshake
from .deploy_dispatch import wait_for_dispatch
from .measure import percentile
from .world import CALLBACK_SECRET, PASSWORD, World

CALLBACKS = 100
OBSERVER = '''
window.__seen = {};
new MutationObserver(() => {
  const now = Date.now();
  for (const match of document.body.textContent.matchAll(/bench step (\\d+)\\./g)) {
    if (!(match[1] in window.__seen)) window.__seen[match[1]] = now;
  }
}).observe(document.body, {childList: true, subtree: true, characterData: true});
'''


def signed(job_id: int, number: int) -> tuple[bytes, dict]:
    body = json.dumps({'job_id': job_id, 'status': 'progress', 'step': 'agent_starting',
                       'message': f'bench step {number}.'}).encode()
    return body, {'X-AgentHost-Signature': sign(body, CALLBACK_SECRET), 'Content-Type': 'application/json'}


async def measure(world: World, callbacks: int = CALLBACKS, *, callback_url: str | None = None) -> dict:
    """The browser watches the page on `world.app`; the callbacks go there too, or to `callback_url` (another
    instance)."""
    account = world.accounts[0]
    agent_id = account.agent_ids[0]
    async with httpx.AsyncClient(base_url=world.app.url, timeout=30) as client:
        job_id = (await client.post(f'/api/agents/{agent_id}/deploy', headers=account.headers)).json()['job']['id']
        await wait_for_dispatch(world, job_id)
        with chromium() as driver:
            log_in(driver, world.app.url, account.email, PASSWORD)
            driver.get(f'{world.app.url}/agents/{agent_id}')
            wait_for_handshake(driver)
            driver.execute_script(OBSERVER)
            latencies = []
            for number in range(callbacks):
                body, headers = signed(job_id, number)
                sent = time.time() * 1000
                (await client.post(f'{callback_url or world.app.url}/api/provisioning/callback', content=body,
                                   headers=headers)).raise_for_status()
                deadline = time.monotonic() + 5
                while (seen := driver.execute_script(f'return window.__seen["{number}"]')) is None:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f'callback {number} never showed in the page')
                    time.sleep(0.002)
                latencies.append((seen - sent) / 1000)
    return {'callbacks': len(latencies), 'p50_ms': percentile(latencies, 50) * 1000,
            'p95_ms': percentile(latencies, 95) * 1000}
