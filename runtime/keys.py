"""Agent API keys: the presented bearer against the hashes in the config, and a limit on repeated failures."""
import hashlib
import hmac
import math
import time
from collections import deque

from .config import AgentConfig
from .errors import RuntimeApiError

FAILURES_ALLOWED = 10
FAILURE_WINDOW_SECONDS = 60.0


def bearer_of(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(' ')
    return token.strip() if scheme.lower() == 'bearer' and token.strip() else None


def key_id_for(presented: str | None, config: AgentConfig) -> int | None:
    """The id of the key whose hash matches; every hash is compared, in constant time, so timing reveals nothing."""
    if presented is None:
        return None
    digest = hashlib.sha256(presented.encode()).hexdigest()
    found = None
    for key in config.api_keys:
        if hmac.compare_digest(digest, key.sha256):
            found = key.id
    return found


def invalid_key(message: str) -> RuntimeApiError:
    return RuntimeApiError(401, message, code='invalid_api_key')


class FailureLimiter:
    """Counts failed key checks per client address in a sliding window; past the allowance, callers wait."""

    def __init__(self, allowed: int = FAILURES_ALLOWED, window: float = FAILURE_WINDOW_SECONDS) -> None:
        self.allowed = allowed
        self.window = window
        self.failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self.failures.get(address, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            self.failures.pop(address, None)
        return times

    def refuse_if_blocked(self, address: str) -> None:
        now = time.monotonic()
        times = self._recent(address, now)
        if len(times) >= self.allowed:
            wait = max(1, math.ceil(self.window - (now - times[0])))
            raise RuntimeApiError(429, f'too many requests with an invalid API key from this address; '
                                       f'retry after {wait} s', kind='rate_limit_error', code='rate_limit_exceeded',
                                  headers={'Retry-After': str(wait)})

    def record_failure(self, address: str) -> None:
        now = time.monotonic()
        times = self._recent(address, now)
        times.append(now)
        self.failures[address] = times
