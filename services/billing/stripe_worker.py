"""Works through stored Stripe events one at a time, in a thread of its own, on a clock and when woken.

One event at a time on purpose: receiving must never wait for processing, and a burst of deliveries
processed in parallel would take the CPU from the requests receiving them. A new event wakes the worker after a
short gathering pause, so one re-read from Stripe settles a burst about the same object; the clock picks up
retries whose back-off has passed and events left over by a restart, re-checks entitlements (a past_due grace
period ends without any event) and cancels the subscriptions of deleted per-agent agents.
"""
import asyncio
from collections.abc import Awaitable, Callable

from nicegui import background_tasks

from models import utcnow

from ..platform import events
from ..platform.workers import BackgroundWorker
from . import billing, stripe_webhooks

TICK_SECONDS = 5.0
ENFORCEMENT_SECONDS = 10 * 60.0
GATHER_SECONDS = 0.5


class StripeEventWorker(BackgroundWorker):
    name = 'stripe-events'
    threads = 1

    def __init__(self) -> None:
        super().__init__(wakes_on=events.stripe_event_stored)
        self.gathering: asyncio.TimerHandle | None = None

    def ticks(self) -> list[tuple[Callable[[], Awaitable[None]], float]]:
        return [(self.work, TICK_SECONDS), (self.enforce, ENFORCEMENT_SECONDS)]

    def stopping(self) -> None:
        if self.gathering is not None:
            self.gathering.cancel()
            self.gathering = None

    def wake(self, *args: object) -> None:
        """Gather a burst of deliveries for a moment, so one re-read from Stripe settles them."""
        if self.running and self.gathering is None:
            self.gathering = asyncio.get_running_loop().call_later(GATHER_SECONDS, self._gathered)

    def _gathered(self) -> None:
        self.gathering = None
        if self.running:
            background_tasks.create(self.work(), name='stripe events: new deliveries')

    async def one_pass(self) -> None:
        """The events stored before the pass began; later ones wait for the next gathering pause, so a storm is
        processed a burst at a time (one re-read settles each burst's object) and receiving keeps the CPU."""
        began = utcnow()
        while await self.call(stripe_webhooks.process_due, 100, began):
            pass

    async def enforce(self) -> None:
        await self.call(billing.enforce_all_entitlements)
        await self.call(billing.cancel_subscriptions_of_deleted_agents)


worker = StripeEventWorker()
