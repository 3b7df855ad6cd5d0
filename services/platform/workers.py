"""The one background-worker base: its own threads, a clock, and the event it wakes on.

Work that must not wait for a request (dispatching jobs, processing Stripe events) runs in a `BackgroundWorker`:
sync service functions in a thread pool of its own, so a slow GitHub or Stripe never takes the threads pages use
for `run.io_bound`; APScheduler ticks on NiceGUI's loop as a safety net; and the `nicegui.Event` it is given
wakes it at once. Passes never overlap (`events.Coalesced`): a wake during a pass runs exactly one more after it.
A pass that fails is logged and the worker carries on; start and shutdown may be called twice (NiceGUI's test
fixtures run startup handlers twice).
"""
import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from nicegui import Event, background_tasks

from models import exclusive_pass

from .events import Coalesced

T = TypeVar('T')

log = logging.getLogger(__name__)


class BackgroundWorker:
    """Runs `one_pass` when `wakes_on` fires, on its clock (`ticks`) and once at start; subclasses fill in the work."""
    name = 'worker'
    threads = 1

    def __init__(self, wakes_on: Event | None = None) -> None:
        self.wakes_on = wakes_on
        self.scheduler: AsyncIOScheduler | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.passes = Coalesced(self._guarded_pass)

    async def one_pass(self) -> None:
        """One pass over the work that is due; await `call` for every sync service function."""

    def ticks(self) -> list[tuple[Callable[[], Awaitable[None]], float]]:
        """(coroutine function, interval in seconds) pairs that APScheduler runs on the loop."""
        return []

    def wake(self, *args: object) -> None:
        """`wakes_on` fired: run a pass now. Subclasses may gather a burst first, or work on what the event names."""
        if self.running:
            background_tasks.create(self.work(), name=f'{self.name}: woken')

    def started(self) -> None:
        """Called on the loop once the worker runs: by default a first pass, for work left over from before."""
        background_tasks.create(self.work(), name=f'{self.name}: at start')

    def stopping(self) -> None:
        """Called on the loop before the threads are stopped (cancel timers)."""

    def stopped(self) -> None:
        """Called once the threads have finished what they were doing (close clients)."""

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    async def work(self) -> None:
        """One pass over everything due; passes never overlap, a request during one runs another after it."""
        await self.passes()

    def start(self) -> None:
        """Start on the running loop; idempotent."""
        if self.running:
            return
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=self.name)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        for function, seconds in self.ticks():
            self.scheduler.add_job(function, IntervalTrigger(seconds=seconds), id=f'{self.name}: {function.__name__}',
                                   max_instances=1, coalesce=True)
        self.scheduler.start()
        if self.wakes_on is not None:
            self.wakes_on.subscribe(self.wake)
        self.started()

    def shutdown(self) -> None:
        """Stop waking and ticking, then wait for the work under way (at most one request timeout)."""
        if not self.running or self.scheduler is None or self.pool is None:
            return
        if self.wakes_on is not None:
            self.wakes_on.unsubscribe(self.wake)
        self.stopping()
        self.scheduler.shutdown(wait=False)  # takes effect on the loop's next turn: stop counting as running now
        self.scheduler = None
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.stopped()

    async def call(self, function: Callable, *args: object) -> Any:
        """Run a sync service function in the worker's threads; exceptions are logged, never lost."""
        if not self.running:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, function, *args)
        except RuntimeError as error:  # the pool was shut down under us (app stopping)
            if 'shutdown' in str(error):
                return None
            raise
        except Exception:
            log.exception('%s: %s failed', self.name, getattr(function, '__name__', function))
            return None

    async def _guarded_pass(self) -> None:
        """A pass that fails is logged, and a wake that came during it still gets its pass."""
        try:
            await self.one_pass()
        except Exception:
            log.exception('%s: a pass failed', self.name)


def once_across_instances(name: str, *, skipped: Any = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A periodic pass that runs on one instance at a time: the others answer `skipped` for that tick (PostgreSQL's
    advisory lock `name`; on SQLite there is one instance)."""
    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def alone(*args: Any, **kwargs: Any) -> T:
            with exclusive_pass(name) as mine:
                return function(*args, **kwargs) if mine else skipped
        return alone
    return decorate
