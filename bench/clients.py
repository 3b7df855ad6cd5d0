"""Row `clients`: many open agent pages (socket.io clients speaking NiceGUI's protocol), memory per client, and
whether one callback still reaches every one of them within a second."""
import asyncio
import re
import time
import uuid
from pathlib import Path

import httpx
import socketio

from .browser import chromium, log_in, session_cookie
from .callback_browser import signed
from .deploy_dispatch import wait_for_dispatch
from .world import PASSWORD, World

LEVELS = (100, 250, 500)
CLIENT_ID = re.compile(r'client_id[\'"]:\s*[\'"]([0-9a-f-]+)[\'"]')


def rss_mib(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    raise RuntimeError('no VmRSS')


class PageClient:
    """One open agent page: the page request, then the socket with NiceGUI's implicit handshake."""

    def __init__(self) -> None:
        self.socket = socketio.AsyncClient(reconnection=False)
        self.updates: list[float] = []
        self.socket.on('*', self._received)

    async def _received(self, event: str, *_) -> None:
        self.updates.append(time.monotonic())

    async def open(self, http: httpx.AsyncClient, base_url: str, path: str, cookie: str) -> None:
        page = await http.get(path, headers={'Cookie': f'session={cookie}'})
        page.raise_for_status()
        client_id = CLIENT_ID.search(page.text).group(1)
        query = f'client_id={client_id}&next_message_id=0&implicit_handshake=true&document_id={uuid.uuid4()}' \
                f'&tab_id={uuid.uuid4()}'
        await self.socket.connect(f'{base_url}?{query}', socketio_path='/_nicegui_ws/socket.io',
                                  headers={'Cookie': f'session={cookie}'}, transports=['websocket'], wait_timeout=30)

    async def close(self) -> None:
        await self.socket.disconnect()


async def measure(world: World, levels: tuple[int, ...] = LEVELS) -> list[dict]:
    account = world.accounts[0]
    agent_id = account.agent_ids[0]
    path = f'/agents/{agent_id}'
    with chromium() as driver:
        log_in(driver, world.app.url, account.email, PASSWORD)
        cookie = session_cookie(driver)
    results = []
    async with httpx.AsyncClient(base_url=world.app.url, timeout=60,
                                 limits=httpx.Limits(max_connections=20)) as http:
        job_id = (await http.post(f'/api/agents/{agent_id}/deploy', headers=account.headers)).json()['job']['id']
        await wait_for_dispatch(world, job_id)
        clients: list[PageClient] = []
        baseline = rss_mib(world.app.pid)
        for level in levels:
            while len(clients) < level:
                batch = [PageClient() for _ in range(min(25, level - len(clients)))]
                await asyncio.gather(*[c.open(http, world.app.url, path, cookie) for c in batch])
                clients.extend(batch)
            await asyncio.sleep(2)  # let the connections settle before reading memory
            memory = rss_mib(world.app.pid)
            for client in clients:
                client.updates.clear()
            body, headers = signed(job_id, 10_000 + level)
            sent = time.monotonic()
            (await http.post('/api/provisioning/callback', content=body, headers=headers)).raise_for_status()
            await asyncio.sleep(5)  # the figure is whether all arrived within 1 s; wait longer to report the slowest
            reached = [c.updates[0] - sent for c in clients if c.updates]
            results.append({'clients': level, 'connected': sum(c.socket.connected for c in clients),
                            'mib_per_client': (memory - baseline) / level,
                            'reached': len(reached), 'slowest_ms': max(reached, default=float('nan')) * 1000,
                            'all_within_1s': len(reached) == level and max(reached) <= 1.0})
        await asyncio.gather(*[client.close() for client in clients], return_exceptions=True)
    return results
