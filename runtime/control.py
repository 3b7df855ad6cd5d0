"""The runtime's side of the control plane: long-polling AgentHost for config revisions."""
import asyncio
import logging

import httpx

from .config import UnusableConfig, parse_config
from .state import RuntimeState

log = logging.getLogger('runtime')

LONG_POLL_SECONDS = 25
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_LAST_SECONDS = 15.0


class ControlPlaneError(Exception):
    """AgentHost could not be reached or refused the runtime token."""


def control_client(agenthost_url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=agenthost_url.rstrip('/'), headers={'Authorization': f'Bearer {token}'},
                             timeout=httpx.Timeout(10, read=LONG_POLL_SECONDS + 10))


async def fetch_config(client: httpx.AsyncClient, after: int | None) -> dict | None:
    """The config answer, or None when the long poll ended without a newer revision."""
    params = {'after': after} if after is not None else {}
    try:
        response = await client.get('/api/runtime/config', params=params)
    except httpx.HTTPError as error:
        raise ControlPlaneError(f'AgentHost unreachable: {error!r}') from None
    if response.status_code == 204:
        return None
    if response.status_code != 200:
        raise ControlPlaneError(f'AgentHost answered {response.status_code} to the config request')
    try:
        return response.json()
    except ValueError:
        raise ControlPlaneError('AgentHost answered a config that is not JSON') from None


def take_config(state: RuntimeState, payload: dict) -> None:
    try:
        config = parse_config(payload)
    except UnusableConfig as error:
        revision = payload.get('revision') if isinstance(payload, dict) else None
        state.refuse(revision if isinstance(revision, int) else None, str(error))
        return
    if state.seen_revision is None or config.revision > state.seen_revision or state.active is None:
        state.apply(config)


async def refresh_config(state: RuntimeState, client: httpx.AsyncClient) -> None:
    """Fetches the current config at once; used when a heartbeat answer says a newer revision exists."""
    payload = await fetch_config(client, None)
    if payload is not None:
        take_config(state, payload)


async def poll_config_forever(state: RuntimeState, client: httpx.AsyncClient) -> None:
    """Long-polls for each newer revision; backs off (doubling, capped) while AgentHost is unreachable."""
    backoff = BACKOFF_FIRST_SECONDS
    while True:
        try:
            payload = await fetch_config(client, state.seen_revision)
        except ControlPlaneError as error:
            state.control_problem = str(error)
            log.warning('%s; retrying in %.1f s', error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_LAST_SECONDS)
            continue
        state.control_problem = ''
        backoff = BACKOFF_FIRST_SECONDS
        if payload is not None:
            take_config(state, payload)
