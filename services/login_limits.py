"""Failed-login throttling per account and per client address, in memory (AgentHost is one process).

A sliding window of failure times per key: once a key holds `limit` failures inside `window` seconds, further
attempts are refused until the oldest failure leaves the window. Success clears the account's record.
"""
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class FailureWindow:
    limit: int
    window: float
    failures: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seconds_until_allowed(self, key: str, now: float | None = None) -> int:
        """0 when `key` may try now, else the whole seconds to wait (for `Retry-After`)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            times = self._prune(key, now)
            if len(times) < self.limit:
                return 0
            return max(1, int(times[0] + self.window - now + 0.999))

    def record_failure(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self.lock:
            self._prune(key, now).append(now)

    def clear(self, key: str) -> None:
        with self.lock:
            self.failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self.failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


per_account = FailureWindow(limit=5, window=15 * 60)
per_address = FailureWindow(limit=20, window=15 * 60)


def reset() -> None:
    """Forget every failure (tests; an operator restart does the same)."""
    for window in (per_account, per_address):
        with window.lock:
            window.failures.clear()
