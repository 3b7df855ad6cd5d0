"""The dispatcher: works on provisioning jobs as soon as they are ready, and on a clock as a safety net.

The job table is the truth (APScheduler's own job stores lose one-shot jobs in a crash), so APScheduler
only ticks: every few seconds it runs the due work (retries whose time has come, dispatches a crash interrupted,
runs to cancel), every minute the reaper, and every few seconds the health pass (agents silent for three heartbeat
intervals become unreachable; those unreachable for AGENT_HEAL_MINUTES are healed). A Deploy does not wait for a
tick: `events.job_ready` reaches `wake` at once, and after each pass a timer is set for the next retry that falls
due. The GitHub calls run in a
pool of their own, so a slow GitHub never takes the threads pages use for `run.io_bound`.

The threads, the clock and the waking come from `platform.workers.BackgroundWorker`.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable

from nicegui import background_tasks

from models import utcnow

from ..platform import events
from ..platform.settings import get_settings
from ..platform.workers import BackgroundWorker
from . import dispatch, github, healing, reaper

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0
REAPER_SECONDS = 60.0


class Dispatcher(BackgroundWorker):
    name = 'provisioning'
    threads = 8

    def __init__(self) -> None:
        super().__init__(wakes_on=events.job_ready)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due: float | None = None
        self.watching_since = utcnow()

    def ticks(self) -> list[tuple[Callable[[], Awaitable[None]], float]]:
        return [(self.work, TICK_SECONDS), (self.reap, REAPER_SECONDS), (self.check_health, health_seconds())]

    def started(self) -> None:
        self.watching_since = utcnow()
        super().started()

    def stopping(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = self.timer_due = None

    def stopped(self) -> None:
        github.close_clients()

    def wake(self, job_id: int) -> None:  # type: ignore[override]  # job_ready names the job
        """A job is ready: work on it now (claims make a second worker on the same job harmless)."""
        if self.running:
            background_tasks.create(self._work_on(job_id), name=f'provisioning: job {job_id}')

    async def reap(self) -> None:
        await self.call(reaper.reap_silent_jobs)

    async def check_health(self) -> None:
        await self.call(healing.mark_unreachable_agents, self.watching_since)
        await self.call(healing.heal_unreachable_agents)

    async def one_pass(self) -> None:
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


def health_seconds() -> float:
    """Half a heartbeat interval, at most 5 s: an agent is judged unreachable soon after its third missed beat."""
    return max(0.1, min(TICK_SECONDS, get_settings().agent_heartbeat_seconds / 2))


dispatcher = Dispatcher()


def start() -> None:
    dispatcher.start()


def shutdown() -> None:
    dispatcher.shutdown()


def is_running() -> bool:
    """For /healthz: whether the dispatcher (and with it the retries and the reaper) is ticking."""
    return dispatcher.running
