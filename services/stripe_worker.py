"""Works through stored Stripe events one at a time, in a thread of its own, on a clock and when woken.

One event at a time on purpose: receiving must never wait for processing (spec §5), and a burst of deliveries
processed in parallel would take the CPU from the requests receiving them. A new event wakes the worker at once;
the clock picks up retries whose back-off has passed and events left over by a restart, and re-checks
entitlements, because a past_due grace period ends without any event.
"""
import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from nicegui import background_tasks

from . import billing, events, stripe_webhooks

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0
GATHER_SECONDS = 0.5
"""A delivery starts a pass this much later, so one re-read from Stripe settles a burst about the same object."""
ENFORCEMENT_MINUTES = 10.0


class StripeEventWorker:
    def __init__(self) -> None:
        self.scheduler: AsyncIOScheduler | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.passing = False
        self.pass_again = False
        self.gathering: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    def start(self) -> None:
        """Start on the running loop; idempotent (NiceGUI's test fixtures run startup handlers twice)."""
        if self.running:
            return
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix='stripe-events')
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self.scheduler.add_job(self.work, IntervalTrigger(seconds=TICK_SECONDS), id='stripe-events',
                               max_instances=1, coalesce=True)
        self.scheduler.add_job(self.enforce, IntervalTrigger(minutes=ENFORCEMENT_MINUTES), id='billing-enforcement',
                               max_instances=1, coalesce=True)
        self.scheduler.start()
        events.stripe_event_stored.subscribe(self.wake)
        background_tasks.create(self.work(), name='stripe events: left over from before the start')

    def shutdown(self) -> None:
        if not self.running:
            return
        events.stripe_event_stored.unsubscribe(self.wake)
        if self.gathering is not None:
            self.gathering.cancel()
            self.gathering = None
        self.scheduler.shutdown(wait=False)
        self.pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        if self.running and self.gathering is None:
            self.gathering = asyncio.get_running_loop().call_later(GATHER_SECONDS, self._gathered)

    def _gathered(self) -> None:
        self.gathering = None
        if self.running:
            background_tasks.create(self.work(), name='stripe events: new deliveries')

    async def work(self) -> None:
        """Process everything due; passes never overlap, and a wake during one runs another after it."""
        if self.passing:
            self.pass_again = True
            return
        self.passing = True
        try:
            while True:
                self.pass_again = False
                processed = await self._call(stripe_webhooks.process_due)
                if not processed and not self.pass_again:
                    break
        finally:
            self.passing = False

    async def enforce(self) -> None:
        await self._call(billing.enforce_all_entitlements)

    async def _call(self, function):
        if not self.running:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, function)
        except RuntimeError as error:  # the pool was shut down under us (app stopping)
            if 'shutdown' in str(error):
                return None
            raise
        except Exception:
            log.exception('stripe events: %s failed', function.__name__)
            return None


worker = StripeEventWorker()
