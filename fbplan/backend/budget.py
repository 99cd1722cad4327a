"""One organization's request budget, shared by every backend client of a run.

Several stacks planned or applied together send their requests to one backend, which
rate-limits the organization, not the process. `RequestBudget` paces them all as one:

- **Pacing.** With a ceiling (`--max-rps`), requests leave at most `max_rps` a second, one
  every `1 / rate` seconds (a token bucket of one token: GCRA's virtual scheduling, so a
  request reserves its slot under the lock and waits for it outside the lock).
- **Backing off together.** A 429 (a rate limit, not a quota) seen by any client pauses
  every client until its `Retry-After` (or one second) and halves the rate (the rate
  measured over the last second when there is no ceiling), at most once per pause, so one
  burst of 429s halves it once, not once per refused request.
- **Recovering.** Every `RECOVERY_SECONDS` without a 429 doubles the slowed rate, until it
  is back at the ceiling (or, with none, at the rate it was halved from: unlimited again).

Every wait is bounded: a pause by `max_pause`, the rate by `MIN_RATE` from below, so a
request waits at most for the requests queued before it, one slot each.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MIN_RATE = 1.0  # requests a second a 429 may slow the budget to, at the lowest
RECOVERY_SECONDS = 10.0
DEFAULT_PAUSE = 1.0  # seconds, after a 429 without a usable Retry-After
_WINDOW = 1.0  # seconds over which the current rate is measured
_KEPT = 10_000  # request times kept to measure it


@dataclass(frozen=True)
class BudgetReport:
    """What the budget did over a run, for its summary line."""

    requests: int
    throttles: int
    waited_seconds: float
    slowest_rate: float | None  # the lowest rate a 429 slowed the budget to, if any


class RequestBudget:
    """A token bucket shared by threads; see the module docstring."""

    def __init__(
        self,
        max_rps: float | None = None,
        *,
        max_pause: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_rps is not None and not (max_rps > 0 and math.isfinite(max_rps)):
            raise ValueError("max_rps must be a positive number")
        self.max_rps = max_rps
        self._max_pause = max_pause
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = -math.inf  # theoretical arrival time of the next request (GCRA)
        self._paused_until = -math.inf
        self._slowed: float | None = None  # the rate while slowed by a 429
        self._restore: float | None = None  # the rate to recover to (None: the ceiling)
        self._changed_at = -math.inf  # when the slowed rate last changed
        self._sent: deque[float] = deque(maxlen=_KEPT)
        self._requests = 0
        self._throttles = 0
        self._waited = 0.0
        self._slowest: float | None = None

    def acquire(self) -> float:
        """Wait for this request's slot; the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until)
            rate = self._rate(now)
            slot = start
            if rate is not None:
                slot = max(start, self._tat)
                self._tat = slot + 1.0 / rate
            self._sent.append(slot)
            self._requests += 1
            wait = slot - now
            self._waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def throttled(self, retry_after: float | None) -> None:
        """A request was refused with 429: pause everyone and slow down."""
        pause = DEFAULT_PAUSE if retry_after is None else retry_after
        pause = min(max(pause, 0.0), self._max_pause)
        with self._lock:
            now = self._clock()
            self._throttles += 1
            halved_recently = now < self._changed_at + max(pause, DEFAULT_PAUSE)
            self._paused_until = max(self._paused_until, now + pause)
            if halved_recently:
                return
            current = self._rate(now) or self._measured(now)
            if self._restore is None and self._slowed is None:
                self._restore = current if self.max_rps is None else None
            self._slowed = max(MIN_RATE, current / 2)
            self._changed_at = now
            self._tat = min(self._tat, now)  # the new interval applies from now
            self._slowest = min(self._slowest or math.inf, self._slowed)

    def report(self) -> BudgetReport:
        with self._lock:
            return BudgetReport(self._requests, self._throttles, self._waited, self._slowest)

    def _rate(self, now: float) -> float | None:
        """The rate in force at `now` (None: unlimited), recovering a slowed one."""
        if self._slowed is None:
            return self.max_rps
        periods = int((now - self._changed_at) // RECOVERY_SECONDS)
        if periods > 0:
            self._slowed *= 2.0 ** min(periods, 30)
            self._changed_at += periods * RECOVERY_SECONDS
            ceiling = self.max_rps if self.max_rps is not None else self._restore
            if ceiling is None or self._slowed >= ceiling:
                self._slowed = self._restore = None
                return self.max_rps
        return self._slowed

    def _measured(self, now: float) -> float:
        """Requests sent over the last second (at least `MIN_RATE`)."""
        recent = 0
        for sent in reversed(self._sent):  # in order of slots, but for a 429's pause
            if sent <= now - _WINDOW:
                break
            recent += 1
        return max(MIN_RATE, recent / _WINDOW)
