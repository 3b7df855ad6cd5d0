"""The one retry policy: exponential back-off with full jitter, a cap, a number of attempts, and the server's wait.

Full jitter (a uniform pick between 0 and the exponential ceiling) spreads the retries of many failures that
happened at once, so they do not hit the recovering service together. A server that names its own wait
(`Retry-After`, a rate limit's reset) knows better than our curve: we wait at least that long, up to
`wait_cap_seconds`, so a wrong or hostile header cannot park the work for days.
"""
import random
from dataclasses import dataclass

MAX_EXPONENT = 60
"""Beyond this the ceiling is the cap anyway; it keeps `2 ** attempt` from overflowing a float."""


@dataclass(frozen=True)
class RetryPolicy:
    """How one kind of work is retried: `delay` before the next try, and when to give up (`exhausted`)."""
    base_seconds: float
    cap_seconds: float
    attempts: int
    wait_cap_seconds: float = 3600.0
    """The longest server-requested wait honoured: GitHub's primary rate limit resets within an hour."""

    def ceiling(self, attempt: int) -> float:
        """The longest delay of our own after `attempt` earlier retries (0 for the first): base·2^attempt, capped."""
        return min(self.cap_seconds, self.base_seconds * 2 ** min(max(0, attempt), MAX_EXPONENT))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait: a random point below the ceiling, but never less than the server asked for."""
        delay = random.uniform(0, self.ceiling(attempt))
        if retry_after is None:
            return delay
        return max(delay, min(max(0.0, retry_after), self.wait_cap_seconds))

    def exhausted(self, attempts: int) -> bool:
        """Whether `attempts` tries made so far are all this policy allows."""
        return attempts >= self.attempts
