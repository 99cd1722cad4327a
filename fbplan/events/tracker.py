"""From the executor's step callbacks to numbered step events, with a heartbeat.

The executor calls a `StepTracker` as each step starts and ends (from its worker threads
and its own); the tracker numbers the steps in the order they start (or are skipped),
remembers which are running, and, from one small thread, emits a `step_running` event for
each step that has run for another `interval` seconds. Every event reaches `emit` under
one lock, so a renderer sees them one at a time, in order.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from fbplan.errors import ConfigError
from fbplan.events.model import Event, StepEvent, StepType

HEARTBEAT_ENV = "FBPLAN_HEARTBEAT_SECONDS"
HEARTBEAT_SECONDS = 10.0
_TYPES: dict[str, StepType] = {
    "start": "step_started",
    "done": "step_completed",
    "failed": "step_failed",
    "skipped": "step_skipped",
}


def heartbeat_interval(env: Mapping[str, str] = os.environ) -> float:
    """Seconds between two "still creating" signs of a slow step (FBPLAN_HEARTBEAT_SECONDS)."""
    text = env.get(HEARTBEAT_ENV, "").strip()
    if not text:
        return HEARTBEAT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.01 <= value <= 3600:
        raise ConfigError(f"{HEARTBEAT_ENV}={text!r} is not a number of seconds from 0.01 to 3600")
    return value


def op_name(step: Any) -> str:
    """The step's action as a word (`create`, `update`, `delete`), whether the executor's
    op is a string or an Enum of strings."""
    return str(getattr(step.op, "value", step.op))


class StepTracker:
    """The executor's `on_step` observer: numbers steps, knows which run, beats for slow ones.

    Use it as a context manager: the heartbeat thread runs inside the `with` block.
    """

    def __init__(
        self,
        kinds: Mapping[str, str],
        steps: int,
        emit: Callable[[Event], None],
        interval: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.kinds, self.steps, self.emit, self.interval = kinds, steps, emit, interval
        # Reentrant: the Ctrl-C handler asks for the running steps on the main thread,
        # which may be inside an emit at that moment.
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._numbers: dict[Any, int] = {}
        self._started: dict[Any, float] = {}  # the running steps, and when they started
        self._next_beat: dict[Any, float] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._beat, name="fbplan-heartbeat", daemon=True)

    def __enter__(self) -> StepTracker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def __call__(self, step: Any, status: str, message: str = "") -> None:
        """The executor's callback: `status` is start, done, failed or skipped; `message` is
        a failed step's error or a skipped step's reason. A step's duration is measured
        here, from its start to its end, as the executor reports them."""
        with self._wake:
            number = self._numbers.setdefault(step, len(self._numbers) + 1)
            now = time.monotonic()
            started = now
            if status == "start":
                idle = not self._next_beat
                self._started[step], self._next_beat[step] = now, now + self.interval
                if idle:  # a step started later is never due before those it waits for
                    self._wake.notify()
            else:
                started = self._started.pop(step, now)
                self._next_beat.pop(step, None)
            ended = status in ("done", "failed")
            self.emit(
                self._event(
                    _TYPES[status],
                    step,
                    number,
                    duration_ms=round((now - started) * 1000) if ended else None,
                    error=message if status == "failed" else None,
                    reason=message if status == "skipped" else None,
                )
            )

    def running(self) -> list[Any]:
        with self._lock:
            return sorted(self._started)

    def _event(self, kind: StepType, step: Any, number: int, **extra: Any) -> StepEvent:
        address = step.address
        return StepEvent(
            kind, address, self.kinds.get(address, ""), op_name(step), number, self.steps, **extra
        )

    def _beat(self) -> None:
        with self._wake:
            while not self._closed:
                now = time.monotonic()
                for step, due in sorted(self._next_beat.items(), key=lambda item: item[1]):
                    if due <= now:
                        self._next_beat[step] = due + self.interval
                        elapsed = round((now - self._started[step]) * 1000)
                        number = self._numbers[step]
                        self.emit(self._event("step_running", step, number, duration_ms=elapsed))
                upcoming = min(self._next_beat.values(), default=None)
                self._wake.wait(None if upcoming is None else max(0.0, upcoming - time.monotonic()))
