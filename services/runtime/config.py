"""The config answer a runtime long-polls for, and the waiting that lets a saved change reach it within 2 s.

A waiting poll is woken in-process the moment a revision is saved here (`events.agent_config_changed`), and reads
the database again at least every RECHECK_SECONDS in any case, so a change saved by another instance reaches it too
and a shutdown is not held up by it.
The provider key travels only in this answer, and only over HTTPS or to a runtime on this machine.
"""
import asyncio
import contextlib
import ipaddress
import time

from models import Agent, AgentRevision

from ..platform import events, model_providers, shutdown
from ..platform.settings import get_settings
from . import api_keys
from .errors import RuntimeControlError

LONG_POLL_SECONDS = 25.0
RECHECK_SECONDS = 1.0

_waiting: dict[int, set[asyncio.Event]] = {}


def config_answer(agent_id: int) -> dict:
    """What the runtime serves: the newest revision, its provider, the hashes of the agent's keys."""
    api_keys.ensure_chat_key(agent_id)
    agent = Agent.get_by_id(agent_id)
    revision = AgentRevision.get_or_none((AgentRevision.agent == agent_id)
                                         & (AgentRevision.revision == agent.config_revision)) or agent
    return {'revision': agent.config_revision,
            'agent': {'id': agent.id, 'name': revision.name, 'model': revision.model,
                      'system_prompt': revision.system_prompt},
            'provider': model_providers.provider_config(revision.model),
            'api_keys': api_keys.active_key_hashes(agent_id),
            'heartbeat_seconds': get_settings().agent_heartbeat_seconds}


def current_revision(agent_id: int) -> int:
    return Agent.select(Agent.config_revision).where(Agent.id == agent_id).scalar() or 0


def check_channel(scheme: str, client_host: str | None) -> None:
    """A provider key may go out over HTTPS, or in plain HTTP only to this machine (a local runtime, or the reverse
    proxy in front of AgentHost that terminated TLS)."""
    if scheme == 'https' or is_loopback(client_host):
        return
    raise RuntimeControlError('PLAIN_HTTP_REFUSED', 'The config holds a provider key and is sent only over HTTPS: set '
                                                    'AGENTHOST_URL to the https address of AgentHost (PUBLIC_URL).')


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == 'localhost'


async def newer_config(agent_id: int, after: int | None, timeout: float | None = None) -> dict | None:
    """The config at once when it is newer than `after` (or `after` is None); else the first newer one within
    `timeout` seconds (LONG_POLL_SECONDS); None when none came."""
    deadline = time.monotonic() + (LONG_POLL_SECONDS if timeout is None else timeout)
    wake = asyncio.Event()
    _waiting.setdefault(agent_id, set()).add(wake)
    try:
        while True:
            wake.clear()
            if after is None or await asyncio.to_thread(current_revision, agent_id) > after:
                return await asyncio.to_thread(config_answer, agent_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or shutdown.is_shutting_down():
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, RECHECK_SECONDS))
    finally:
        _waiting[agent_id].discard(wake)
        if not _waiting[agent_id]:
            del _waiting[agent_id]


def wake_waiting(agent_id: int) -> None:
    """On the event loop: every poll of the agent reads again now."""
    for wake in _waiting.get(agent_id, ()):
        wake.set()


def start() -> None:
    """At AgentHost's start: saved revisions wake the polls waiting here."""
    events.agent_config_changed.subscribe(wake_waiting)
