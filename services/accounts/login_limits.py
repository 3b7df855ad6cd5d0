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
from collections.abc import Hashable
from dataclasses import dataclass, field

MAX_KEYS = 100_000
"""Beyond this many remembered keys, stale ones are dropped first (random emails must not grow memory forever)."""


@dataclass
class SlidingWindow:
    """At most `limit` events per key inside `window` seconds; then wait until the oldest leaves the window."""
    limit: int
    window: float
    events: dict[Hashable, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

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
            if len(self.events) >= MAX_KEYS:
                for stale in [k for k, times in self.events.items() if not times or times[-1] <= now - self.window]:
                    del self.events[stale]
            self._prune(key, now).append(now)

    def clear(self, key: Hashable) -> None:
        with self.lock:
            self.events.pop(key, None)

    def reset(self) -> None:
        with self.lock:
            self.events.clear()

    def _prune(self, key: Hashable, now: float) -> deque[float]:
        times = self.events.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


@dataclass
class GrowingDelay:
    """After `free` failures, a key waits `first` seconds, then twice as long after each further failure, up to
    `longest`; forgotten `forget_after` seconds after its last failure, or at once on success."""
    free: int
    first: float
    longest: float
    forget_after: float
    failures: dict[Hashable, tuple[int, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

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
            if len(self.failures) >= MAX_KEYS:
                for stale in [k for k, (_, last) in self.failures.items() if last <= now - self.forget_after]:
                    del self.failures[stale]
            count, _ = self._current(key, now)
            self.failures[key] = (count + 1, now)

    def clear(self, key: Hashable) -> None:
        with self.lock:
            self.failures.pop(key, None)

    def reset(self) -> None:
        with self.lock:
            self.failures.clear()

    def _current(self, key: Hashable, now: float) -> tuple[int, float]:
        count, last = self.failures.get(key, (0, now))
        if now - last >= self.forget_after:
            self.failures.pop(key, None)
            return 0, now
        return count, last


per_account_and_address = GrowingDelay(free=3, first=1, longest=15 * 60, forget_after=60 * 60)
per_address = SlidingWindow(limit=20, window=15 * 60)
signups_per_address = SlidingWindow(limit=5, window=60 * 60)


def reset() -> None:
    """Forget every failure (tests; an operator restart does the same)."""
    for limit in (per_account_and_address, per_address, signups_per_address):
        limit.reset()
