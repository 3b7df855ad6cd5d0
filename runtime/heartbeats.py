"""Heartbeats to AgentHost: who this process is, what it serves, and its cumulative usage."""
import asyncio
import contextlib
import logging

import httpx

from .control import refresh_config
from .state import RuntimeState

log = logging.getLogger('runtime')

FIRST_INTERVAL_SECONDS = 15.0
FIRST_CONFIG_WAIT_SECONDS = 5.0


def heartbeat_body(state: RuntimeState, boot_id: str, seq: int) -> dict:
    status, message = state.health()
    usage = state.usage
    return {'boot_id': boot_id, 'seq': seq,
            'revision': state.active.config.revision if state.active else None,
            'status': status, 'message': message,
            'usage': {'requests': usage.requests, 'input_tokens': usage.input_tokens,
                      'output_tokens': usage.output_tokens},
            'api_keys_used': dict(usage.keys_used)}


async def send_heartbeat(state: RuntimeState, client: httpx.AsyncClient, body: dict) -> None:
    """One heartbeat; a newer revision in the answer than any seen makes the runtime fetch it now."""
    try:
        response = await client.post('/api/runtime/heartbeat', json=body)
    except httpx.HTTPError as error:
        log.warning('heartbeat %s not delivered: %r', body['seq'], error)
        return
    if response.status_code != 200:
        log.warning('heartbeat %s answered %s', body['seq'], response.status_code)
        return
    latest = response.json().get('revision') if 'json' in response.headers.get('content-type', '') else None
    if isinstance(latest, int) and (state.seen_revision is None or latest > state.seen_revision):
        state.spawn(refresh_quietly(state, client))


async def refresh_quietly(state: RuntimeState, client: httpx.AsyncClient) -> None:
    try:
        await refresh_config(state, client)
    except Exception as error:  # noqa: BLE001 — the long poll retries; a failed shortcut only waits for it
        log.warning('config refresh after heartbeat failed: %s', error)


async def heartbeat_forever(state: RuntimeState, client: httpx.AsyncClient) -> None:
    """Beats every `heartbeat_seconds`; the first waits briefly for a config so it can already name a revision."""
    boot_id = state.boot_id
    seq = 0
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.configured.wait(), FIRST_CONFIG_WAIT_SECONDS)
    while True:
        seq += 1
        await send_heartbeat(state, client, heartbeat_body(state, boot_id, seq))
        interval = state.active.config.heartbeat_seconds if state.active else FIRST_INTERVAL_SECONDS
        await asyncio.sleep(interval)
