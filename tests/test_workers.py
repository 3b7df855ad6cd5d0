"""The background-worker base: woken by its event, a pass that fails does not stop it, and it stops cleanly."""
import asyncio
import threading

import pytest
from nicegui import Event, core

from services.platform.workers import BackgroundWorker
from tests.provisioning_support import eventually


class CountingWorker(BackgroundWorker):
    """Counts its passes, each done in the worker's threads; the passes named in `failing` raise."""
    name = 'counting'

    def __init__(self, wakes_on: Event) -> None:
        super().__init__(wakes_on=wakes_on)
        self.passes_done = 0
        self.failing: set[int] = set()
        self.threads_used: set[str] = set()
        self.hold = asyncio.Event()
        self.hold.set()

    async def one_pass(self) -> None:
        number = await self.call(self._count)
        if number in self.failing:
            await self.hold.wait()
            raise RuntimeError(f'pass {number} broke')

    def _count(self) -> int:
        self.threads_used.add(threading.current_thread().name)
        self.passes_done += 1
        return self.passes_done


@pytest.fixture
async def worker(monkeypatch):
    monkeypatch.setattr(core, 'loop', asyncio.get_running_loop())
    worker = CountingWorker(Event())
    worker.start()
    await eventually(lambda: worker.passes_done == 1 and not worker.passes.running, 'the pass at start')
    yield worker
    worker.shutdown()


async def test_a_worker_runs_a_pass_in_its_own_threads_when_its_event_fires(worker: CountingWorker):
    worker.wakes_on.emit()
    await eventually(lambda: worker.passes_done == 2, 'a pass after the event')
    assert worker.threads_used and all(name.startswith('counting') for name in worker.threads_used)


async def test_a_pass_that_fails_is_logged_and_a_wake_during_it_still_runs_one_more(worker: CountingWorker,
                                                                                    caplog):
    worker.failing, worker.hold = {2}, asyncio.Event()
    worker.wakes_on.emit()
    await eventually(lambda: worker.passes_done == 2, 'the pass that will fail to begin')
    worker.wakes_on.emit()  # arrives during the failing pass
    worker.hold.set()
    await eventually(lambda: worker.passes_done == 3, 'the pass asked for during the failed one')
    assert 'counting: a pass failed' in caplog.text and 'pass 2 broke' in caplog.text
    assert worker.running


async def test_a_stopped_worker_no_longer_listens_to_its_event(worker: CountingWorker):
    worker.shutdown()
    assert not worker.running
    assert worker.wakes_on.callbacks == []
    worker.wakes_on.emit()
    assert worker.passes_done == 1
    worker.shutdown()  # twice is harmless (NiceGUI's fixtures stop the app twice)
    assert worker.pool is not None and worker.pool._shutdown
