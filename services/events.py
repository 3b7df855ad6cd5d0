"""The one seam for live updates: `nicegui.Event`s that services emit and pages subscribe to.

Services run on worker threads (`run.io_bound`, the dispatch pool), where no UI may be touched; `publish` hands
the emit to NiceGUI's event loop with `call_soon_threadsafe`, so subscribers always run on the loop, inside the
slot of the page that subscribed. Outside a running app (the command line, plain unit tests) it does nothing.
"""
import asyncio
from collections.abc import Awaitable, Callable

from nicegui import Event, core

agent_changed: Event[int, int] = Event()
"""(owner id, agent id): an agent, its current job or its timeline changed; pages reload it from the database."""

stripe_event_stored: Event[[]] = Event()
"""A new Stripe event was stored; the Stripe event worker subscribes."""

job_ready: Event[int] = Event()
"""(job id): a job can be worked on now (queued, or its run must be cancelled); the dispatcher subscribes."""


def publish(event: Event, *args: object) -> None:
    """Emit `event` on the app's loop, from any thread."""
    loop = core.loop
    if loop is None or loop.is_closed():
        return
    if _running_loop() is loop:
        event.emit(*args)
    elif loop.is_running():
        loop.call_soon_threadsafe(event.emit, *args)


def agent_updated(owner_id: int, agent_id: int) -> None:
    publish(agent_changed, owner_id, agent_id)


def stripe_event_received() -> None:
    publish(stripe_event_stored)


def job_queued(job_id: int) -> None:
    publish(job_ready, job_id)


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
