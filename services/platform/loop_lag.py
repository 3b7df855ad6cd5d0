"""How late the event loop runs what is due: the figure users feel as sluggish pages when something blocks it.

A task sleeps for a short interval and records how much later than asked it woke up; the worst lag since the last
read is exported as a metric, so a benchmark or an operator sees whether anything blocks the loop.
"""
import asyncio
import time

from nicegui import background_tasks

INTERVAL_SECONDS = 0.05


class LoopLagMonitor:
    def __init__(self) -> None:
        self.task: asyncio.Task | None = None
        self.worst = 0.0
        self.last = 0.0

    def start(self) -> None:
        """Idempotent (NiceGUI's test fixtures run startup handlers twice)."""
        if self.task is None or self.task.done():
            self.task = background_tasks.create(self._watch(), name='event loop lag monitor')

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def take_worst(self) -> float:
        """The worst lag in seconds since the previous call, then start over."""
        worst, self.worst = self.worst, 0.0
        return worst

    async def _watch(self) -> None:
        while True:
            expected = time.perf_counter() + INTERVAL_SECONDS
            await asyncio.sleep(INTERVAL_SECONDS)
            self.last = max(0.0, time.perf_counter() - expected)
            self.worst = max(self.worst, self.last)


monitor = LoopLagMonitor()
