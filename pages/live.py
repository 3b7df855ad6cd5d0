"""Reloading a page's data when `services.events` says it changed: one read at a time, never a stale one last.

Reads run on worker threads and can finish out of order; if a change arrives while a read is under way, that
read may have seen part of it, so exactly one more read follows. The last read therefore always starts after
the last change was committed, and the page ends showing the database as it is.
"""
from collections.abc import Awaitable, Callable


class Reloader:
    def __init__(self, reload: Callable[[], Awaitable[None]]) -> None:
        self.reload = reload
        self.reading = False
        self.again = False

    async def __call__(self) -> None:
        if self.reading:
            self.again = True
            return
        self.reading = True
        try:
            while True:
                self.again = False
                await self.reload()
                if not self.again:
                    break
        finally:
            self.reading = False
