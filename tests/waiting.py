"""Tests wait for a condition, never for a fixed time: one way to do it, with a failure that names what never came."""

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], what: str = "the condition", timeout: float = 30) -> object:
    """Polls `condition` until it answers something truthy, and returns that answer."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.02)  # bounded by the deadline
    return result
