"""The one retry policy: full jitter under a doubling ceiling, a cap, the server's wait, and giving up."""
import random

from services.platform import retry as retry_module
from services.platform.retry import RetryPolicy

POLICY = RetryPolicy(base_seconds=2.0, cap_seconds=30.0, attempts=4, wait_cap_seconds=120.0)


class Extremes:
    """Stands in for `random`: answers the top of every range, or its bottom."""

    def __init__(self, top: bool) -> None:
        self.top = top

    def uniform(self, low: float, high: float) -> float:
        return high if self.top else low


def test_each_delay_falls_between_zero_and_a_ceiling_that_doubles_with_every_attempt(monkeypatch):
    monkeypatch.setattr(retry_module, 'random', Extremes(top=True))
    assert [POLICY.delay(attempt) for attempt in range(4)] == [2.0, 4.0, 8.0, 16.0]
    monkeypatch.setattr(retry_module, 'random', Extremes(top=False))
    assert [POLICY.delay(attempt) for attempt in range(4)] == [0.0, 0.0, 0.0, 0.0]


def test_delays_are_spread_over_the_whole_range_by_full_jitter(monkeypatch):
    monkeypatch.setattr(retry_module, 'random', random.Random(7))
    delays = [POLICY.delay(3) for _ in range(200)]
    assert all(0 <= delay <= 16 for delay in delays)
    assert min(delays) < 4 and max(delays) > 12


def test_the_ceiling_stops_at_the_cap_however_many_attempts_failed(monkeypatch):
    monkeypatch.setattr(retry_module, 'random', Extremes(top=True))
    assert POLICY.delay(5) == 30.0
    assert POLICY.delay(10_000) == 30.0


def test_a_servers_wait_is_honoured_even_above_our_own_ceiling():
    assert POLICY.delay(0, retry_after=90.0) == 90.0


def test_our_own_delay_wins_when_the_server_asks_for_less(monkeypatch):
    monkeypatch.setattr(retry_module, 'random', Extremes(top=True))
    assert POLICY.delay(3, retry_after=1.0) == 16.0


def test_a_servers_wait_is_capped_so_a_wild_header_cannot_park_the_work():
    assert POLICY.delay(0, retry_after=86_400.0) == 120.0


def test_a_negative_server_wait_counts_as_none(monkeypatch):
    monkeypatch.setattr(retry_module, 'random', Extremes(top=False))
    assert POLICY.delay(0, retry_after=-5.0) == 0.0


def test_the_policy_is_exhausted_once_all_its_attempts_are_made():
    assert [POLICY.exhausted(attempts) for attempts in range(6)] == [False, False, False, False, True, True]
