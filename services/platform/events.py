"""The one seam for live updates: `nicegui.Event`s that services emit and pages subscribe to.

Services run on worker threads (`run.io_bound`, the dispatch pool), where no UI may be touched; `publish` hands
the emit to NiceGUI's event loop with `call_soon_threadsafe`, so subscribers always run on the loop, inside the
slot of the page that subscribed. Outside a running app (the command line, plain unit tests) it does nothing.
"""
import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from nicegui import Event, core

agent_changed: Event[int, int] = Event()
"""(owner id, agent id): an agent, its current job or its timeline changed; pages reload it from the database."""

stripe_event_stored: Event[[]] = Event()
"""A new Stripe event was stored; the Stripe event worker subscribes."""

job_ready: Event[int] = Event()
"""(job id): a job can be worked on now (queued, or its run must be cancelled); the dispatcher subscribes."""

account_changed: Event[int] = Event()
"""(user id): an account was disabled, lost admin rights or logged out somewhere; its open pages check it again."""

agent_log: Event[int, int] = Event()
"""(owner id, agent id): the agent's runtime shipped new log lines; its open page shows them."""

agent_config_changed: Event[int] = Event()
"""(agent id): a new config revision was saved; the runtime's waiting long poll answers at once."""


SHARED: dict[str, Event] = {'agent_changed': agent_changed, 'stripe_event_stored': stripe_event_stored,
                             'job_ready': job_ready, 'account_changed': account_changed, 'agent_log': agent_log,
                             'agent_config_changed': agent_config_changed}
"""Every event by name: on PostgreSQL each one published here also reaches the other instances
(`platform.across_instances`), and theirs arrive here."""
_NAMES = {id(event): name for name, event in SHARED.items()}
_relays: list[Callable[[str, tuple], None]] = []


def relay_to(send: Callable[[str, tuple], None] | None) -> None:
    """Hand every event published from now on also to `send` (name, arguments); None stops relaying."""
    _relays.clear()
    if send is not None:
        _relays.append(send)


def publish(event: Event, *args: object) -> None:
    """Emit `event` on the app's loop, from any thread, and relay it to the other instances when there are any."""
    emit_here(event, *args)
    for send in _relays:
        send(_NAMES[id(event)], args)


def received_from_elsewhere(name: str, args: list) -> None:
    """Another instance published `name`: emit it here too (an agent's change moves its version first, so pages
    read afresh); never relayed again."""
    event = SHARED.get(name)
    if event is None:
        return
    if event is agent_changed and len(args) == 2:
        _move_version(int(args[1]))
    emit_here(event, *args)


def emit_here(event: Event, *args: object) -> None:
    loop = core.loop
    if loop is None or loop.is_closed():
        return
    if _running_loop() is loop:
        event.emit(*args)
    elif loop.is_running():
        loop.call_soon_threadsafe(event.emit, *args)


_changes = itertools.count(1)
_agent_versions: dict[int, int] = {}
_versions_lock = threading.Lock()


def agent_updated(owner_id: int, agent_id: int) -> None:
    """Announce a committed change; the agent's version moves first, so reads started from now on are fresh."""
    _move_version(agent_id)
    publish(agent_changed, owner_id, agent_id)


def _move_version(agent_id: int) -> None:
    with _versions_lock:
        _agent_versions[agent_id] = next(_changes)


def agent_logged(owner_id: int, agent_id: int) -> None:
    publish(agent_log, owner_id, agent_id)


def agent_version(agent_id: int) -> int:
    """Changes so far announced for the agent: a read started at version v reflects every commit up to v."""
    return _agent_versions.get(agent_id, 0)


def stripe_event_received() -> None:
    publish(stripe_event_stored)


def job_queued(job_id: int) -> None:
    publish(job_ready, job_id)


def account_updated(user_id: int) -> None:
    publish(account_changed, user_id)


def config_changed(agent_id: int) -> None:
    publish(agent_config_changed, agent_id)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Coalesced:
    """Run an async function one call at a time; calls that arrive meanwhile become exactly one more run.

    For reloads after change events (pages) and passes over due work (the dispatcher): reads can finish out of
    order, so the last run always starts after the last request and sees everything committed before it.
    """

    def __init__(self, function: Callable[[], Awaitable[None]]) -> None:
        self.function = function
        self.running = False
        self.again = False

    async def __call__(self) -> None:
        if self.running:
            self.again = True
            return
        self.running = True
        try:
            while True:
                self.again = False
                await self.function()
                if not self.again:
                    break
        finally:
            self.running = False


class SharedReads:
    """Identical reads in flight at the same time share one answer.

    When a change reaches many open pages of one agent, each would read the same rows; keyed by the agent's
    `agent_version`, they wait for one read instead. A read is only joined by readers of the same version, so
    nobody gets an answer that started before the change they were told about.
    """

    def __init__(self) -> None:
        self.in_flight: dict[Hashable, asyncio.Future] = {}

    async def read(self, key: Hashable, function: Callable[[], Awaitable[Any]]) -> Any:
        future = self.in_flight.get(key)
        if future is None:
            future = asyncio.ensure_future(function())
            self.in_flight[key] = future
            future.add_done_callback(lambda _: self.in_flight.pop(key, None))
        return await asyncio.shield(future)
