"""Group commit: requests that arrive while one batch is being written share the next one — one thread hop and one
write transaction (one fsync on SQLite, one round of locks on PostgreSQL) for all of them.

For the endpoints a fleet or a payment provider calls all the time (heartbeats, webhooks): under load the batches
grow by themselves and each request costs a fraction of a transaction; when it is quiet the first request is
written at once, so nobody waits for a timer. Each request still gets its own answer, or its own error.
"""
import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from nicegui import background_tasks, run

from .errors import DomainError

Item = TypeVar('Item')
Answer = TypeVar('Answer')

BATCH_LIMIT = 500


class GroupCommit(Generic[Item, Answer]):
    """`apply_batch` runs on a worker thread with a list of items and returns, in the same order, each item's answer
    or the exception that item gets (the others still succeed). With `linger_seconds`, a quiet moment's first item
    waits that long for others to join it: for requests nobody waits on, where fewer transactions matter more."""

    def __init__(self, name: str, apply_batch: Callable[[list[Item]], Sequence[Answer | Exception]], *,
                 linger_seconds: float = 0.0) -> None:
        self.name = name
        self.apply_batch = apply_batch
        self.linger_seconds = linger_seconds
        self.waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self.writing = False

    async def submit(self, item: Item) -> Answer:
        """The item's answer once the transaction that holds it committed; raises the item's own error."""
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, answer))
        if not self.writing:
            self.writing = True
            background_tasks.create(self.write_waiting(), name=f'{self.name}: group commit')
        return await answer

    async def write_waiting(self) -> None:
        try:
            if self.linger_seconds:
                await asyncio.sleep(self.linger_seconds)
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH_LIMIT], self.waiting[BATCH_LIMIT:]
                await self.write(batch)
        finally:
            self.writing = False

    async def write(self, batch: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        answers: Sequence[Answer | Exception] | None
        try:
            answers = await run.io_bound(self.apply_batch, [item for item, _ in batch])
            if answers is None:
                raise DomainError('SHUTTING_DOWN', 'AgentHost is stopping; send the request again.')
        except Exception as error:  # noqa: BLE001 — every waiting request gets the failure, none hangs
            answers = [error] * len(batch)
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the caller hung up meanwhile
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
