"""The request budget shared by every stack of a run: pacing, a 429 that slows everyone,
recovery. A fake clock: the budget's waits advance it, nothing sleeps."""

from __future__ import annotations

import itertools

import pytest

from fbplan.backend.budget import MIN_RATE, RECOVERY_SECONDS, RequestBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def budget(max_rps: float | None = None, **kw: float) -> tuple[RequestBudget, Clock]:
    clock = Clock()
    return RequestBudget(max_rps, clock=clock, sleep=clock.sleep, **kw), clock


def send(b: RequestBudget, clock: Clock, count: int) -> list[float]:
    """The times `count` requests leave, one after another."""
    times = []
    for _ in range(count):
        b.acquire()
        times.append(clock.now)
    return times


def per_second(times: list[float]) -> int:
    """The most requests that left within any one second."""
    return max(sum(1 for t in times if start <= t < start + 1.0 - 1e-6) for start in times)


def test_without_a_ceiling_nothing_waits() -> None:
    b, clock = budget()
    assert send(b, clock, 50) == [0.0] * 50
    assert b.report().waited_seconds == 0


def test_a_ceiling_paces_requests_evenly() -> None:
    b, clock = budget(5)
    times = send(b, clock, 20)
    assert per_second(times) == 5
    assert times[-1] == pytest.approx(19 * 0.2)


def test_a_429_pauses_until_retry_after_and_halves_the_rate() -> None:
    b, clock = budget(10)
    send(b, clock, 10)  # 0.0 .. 0.9
    b.throttled(retry_after=3)
    times = send(b, clock, 5)
    assert times[0] == pytest.approx(clock.now - 4 * 0.2)
    assert times[0] >= 0.9 + 3
    assert [round(c - a, 6) for a, c in itertools.pairwise(times)] == [0.2] * 4
    assert b.report().throttles == 1
    assert b.report().slowest_rate == 5


def test_without_a_ceiling_a_429_halves_the_rate_measured_over_the_last_second() -> None:
    b, clock = budget()
    send(b, clock, 40)  # all at once
    b.throttled(retry_after=None)  # no Retry-After: one second
    times = send(b, clock, 21)
    assert times[0] == pytest.approx(1.0)
    assert per_second(times) == 20


def test_a_burst_of_429s_halves_the_rate_once() -> None:
    b, _clock = budget(8)
    for _ in range(10):
        b.throttled(retry_after=1)
    assert b.report().slowest_rate == 4
    assert b.report().throttles == 10


def test_the_rate_never_drops_below_the_floor() -> None:
    b, clock = budget(1.5)
    for _ in range(5):
        b.throttled(retry_after=1)
        clock.now += 2
    assert b.report().slowest_rate == MIN_RATE


def test_the_rate_recovers_to_the_ceiling_without_429s() -> None:
    b, clock = budget(10)
    b.throttled(retry_after=0)
    clock.now += RECOVERY_SECONDS
    assert per_second(send(b, clock, 30)) == 10


def test_without_a_ceiling_recovery_ends_the_limit() -> None:
    b, clock = budget()
    send(b, clock, 8)
    b.throttled(retry_after=0)
    clock.now += 2 * RECOVERY_SECONDS
    start = clock.now
    assert send(b, clock, 30) == [start] * 30


def test_retry_after_is_capped() -> None:
    b, clock = budget(max_pause=5)
    b.throttled(retry_after=3600)
    b.acquire()
    assert clock.now == pytest.approx(5)


def test_a_ceiling_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RequestBudget(0)
