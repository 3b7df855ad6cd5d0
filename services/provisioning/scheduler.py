"""The dispatcher: works on provisioning jobs as soon as they are ready, and on a clock as a safety net.

The job table is the truth (field notes: APScheduler's own stores lose one-shot jobs in a crash), so APScheduler
only ticks: every few seconds it runs the due work (retries whose time has come, dispatches a crash interrupted,
runs to cancel), and every minute the reaper. A Deploy does not wait for a tick: `events.job_ready` reaches
`wake` at once, and after each pass a timer is set for the next retry that falls due. The GitHub calls run in a
pool of their own, so a slow GitHub never takes the threads pages use for `run.io_bound`.

`BackgroundWorker` is the reusable part: a thread pool of its own, APScheduler ticks on NiceGUI's loop, and a
start and shutdown that NiceGUI's test fixtures may call twice.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from nicegui import background_tasks

from models import utcnow

from ..platform import events
from . import dispatch, github, reaper

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0
REAPER_SECONDS = 60.0


class BackgroundWorker:
    """Runs sync service functions in its own threads, on a clock (`ticks`) and whenever a subclass is woken."""
    name = 'worker'
    threads = 1

    def __init__(self) -> None:
        self.scheduler: AsyncIOScheduler | None = None
        self.pool: ThreadPoolExecutor | None = None

    def ticks(self) -> list[tuple[Callable[[], Awaitable[None]], float]]:
        """(coroutine function, interval in seconds) pairs that APScheduler runs on the loop."""
        return []

    def started(self) -> None:
        """Called on the loop once the worker runs (subscribe to events, schedule a first pass)."""

    def stopping(self) -> None:
        """Called on the loop before the threads are stopped."""

    def stopped(self) -> None:
        """Called once the threads have finished what they were doing."""

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    def start(self) -> None:
        """Start on the running loop; idempotent (NiceGUI's test fixtures run startup handlers twice)."""
        if self.running:
            return
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=self.name)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        for function, seconds in self.ticks():
            self.scheduler.add_job(function, IntervalTrigger(seconds=seconds), id=f'{self.name}: {function.__name__}',
                                   max_instances=1, coalesce=True)
        self.scheduler.start()
        self.started()

    def shutdown(self) -> None:
        if not self.running:
            return
        self.stopping()
        self.scheduler.shutdown(wait=False)
        self.pool.shutdown(wait=True, cancel_futures=True)  # at most one request timeout: work under way finishes
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


class Dispatcher(BackgroundWorker):
    name = 'provisioning'
    threads = 8

    def __init__(self) -> None:
        super().__init__()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due: float | None = None
        self.passes = events.Coalesced(self._pass)

    def ticks(self) -> list[tuple[Callable[[], Awaitable[None]], float]]:
        return [(self.work, TICK_SECONDS), (self.reap, REAPER_SECONDS)]

    def started(self) -> None:
        events.job_ready.subscribe(self.wake)
        background_tasks.create(self.work(), name='provisioning: reconcile at start')

    def stopping(self) -> None:
        events.job_ready.unsubscribe(self.wake)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = self.timer_due = None

    def stopped(self) -> None:
        github.close_clients()

    def wake(self, job_id: int) -> None:
        """A job is ready: work on it now (claims make a second worker on the same job harmless)."""
        if self.running:
            background_tasks.create(self._work_on(job_id), name=f'provisioning: job {job_id}')

    async def work(self) -> None:
        """One pass over everything due; passes never overlap, a request during one runs another after it."""
        await self.passes()

    async def reap(self) -> None:
        await self.call(reaper.reap_silent_jobs)

    async def _pass(self) -> None:
        job_ids = await self.call(dispatch.due_job_ids) or []
        await asyncio.gather(*(self.call(dispatch.work_on, job_id) for job_id in job_ids))
        await self._set_timer()

    async def _work_on(self, job_id: int) -> None:
        await self.call(dispatch.work_on, job_id)
        await self._set_timer()

    async def _set_timer(self) -> None:
        """Wake for the earliest retry or lease that falls due, unless a timer for an earlier moment is set."""
        due = await self.call(dispatch.next_wake_at)
        if due is None or not self.running:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, (due - utcnow()).total_seconds()) + 0.01
        when = loop.time() + delay
        if self.timer is not None and self.timer_due is not None and loop.time() < self.timer_due <= when:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_due = when
        self.timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = self.timer_due = None
        if self.running:
            background_tasks.create(self.work(), name='provisioning: due work')


dispatcher = Dispatcher()


def start() -> None:
    dispatcher.start()


def shutdown() -> None:
    dispatcher.shutdown()


def is_running() -> bool:
    """For /healthz: whether the dispatcher (and with it the retries and the reaper) is ticking."""
    return dispatcher.running
