"""Throttling of logins and sign-ups, in memory (AgentHost is one process).

- Failed logins slow down one account *from one address*: after a few free attempts, each further attempt of that
  pair waits twice as long as the one before. Someone guessing a password from their address never locks the
  owner, who logs in from another, out of their account.
- Failed logins from one address across all accounts (password spraying): a sliding window.
- Sign-ups from one address: a sliding window, since each one costs a slow password hash.
"""
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

MAX_KEYS = 100_000
"""Beyond this many remembered keys, stale ones are dropped first (random emails must not grow memory forever)."""


Entry = TypeVar('Entry')


class KeyedMemory(Generic[Entry]):
    """What a limit remembers per key, under one lock, with room made by dropping stale keys first."""

    def __init__(self) -> None:
        self.entries: dict[Hashable, Entry] = {}
        self.lock = threading.Lock()

    def clear(self, key: Hashable) -> None:
        with self.lock:
            self.entries.pop(key, None)

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()

    def _make_room(self, is_stale: Callable[[Entry], bool]) -> None:
        """Called under the lock before a new entry: past MAX_KEYS, forget the stale ones."""
        if len(self.entries) >= MAX_KEYS:
            for stale in [key for key, entry in self.entries.items() if is_stale(entry)]:
                del self.entries[stale]


class SlidingWindow(KeyedMemory[deque[float]]):
    """At most `limit` events per key inside `window` seconds; then wait until the oldest leaves the window."""

    def __init__(self, limit: int, window: float) -> None:
        super().__init__()
        self.limit = limit
        self.window = window

    def seconds_until_allowed(self, key: Hashable, now: float | None = None) -> int:
        """0 when `key` may try now, else the whole seconds to wait (for `Retry-After`)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            times = self._prune(key, now)
            if len(times) < self.limit:
                return 0
            return max(1, int(times[0] + self.window - now + 0.999))

    def record(self, key: Hashable, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self.lock:
            self._make_room(lambda times: not times or times[-1] <= now - self.window)
            self._prune(key, now).append(now)

    def _prune(self, key: Hashable, now: float) -> deque[float]:
        times = self.entries.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


class GrowingDelay(KeyedMemory[tuple[int, float]]):
    """After `free` failures, a key waits `first` seconds, then twice as long after each further failure, up to
    `longest`; forgotten `forget_after` seconds after its last failure, or at once on success."""

    def __init__(self, free: int, first: float, longest: float, forget_after: float) -> None:
        super().__init__()
        self.free = free
        self.first = first
        self.longest = longest
        self.forget_after = forget_after

    def delay_after(self, count: int) -> float:
        return 0.0 if count < self.free else min(self.longest, self.first * 2 ** (count - self.free))

    def seconds_until_allowed(self, key: Hashable, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self.lock:
            count, last = self._current(key, now)
            wait = last + self.delay_after(count) - now
            return max(1, int(wait + 0.999)) if wait > 0 else 0

    def record_failure(self, key: Hashable, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self.lock:
            self._make_room(lambda entry: entry[1] <= now - self.forget_after)
            count, _ = self._current(key, now)
            self.entries[key] = (count + 1, now)

    def _current(self, key: Hashable, now: float) -> tuple[int, float]:
        count, last = self.entries.get(key, (0, now))
        if now - last >= self.forget_after:
            self.entries.pop(key, None)
            return 0, now
        return count, last


per_account_and_address = GrowingDelay(free=3, first=1, longest=15 * 60, forget_after=60 * 60)
per_address = SlidingWindow(limit=20, window=15 * 60)
signups_per_address = SlidingWindow(limit=5, window=60 * 60)


def reset() -> None:
    """Forget every failure (tests; an operator restart does the same)."""
    for limit in (per_account_and_address, per_address, signups_per_address):
        limit.reset()
