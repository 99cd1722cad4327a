"""Events of a run: plain data (`model`), produced from the executor's step callbacks
(`tracker`), rendered by the CLI as JSON lines or text (`fbplan.cli.progress`)."""

from __future__ import annotations

from fbplan.events.model import (
    EVENTS_VERSION,
    Drifted,
    Event,
    RunStarted,
    SmokeResult,
    StepEvent,
    Summary,
    load_schema,
    to_dict,
    to_json,
)
from fbplan.events.tracker import HEARTBEAT_ENV, StepTracker, heartbeat_interval, op_name

__all__ = [
    "EVENTS_VERSION",
    "HEARTBEAT_ENV",
    "Drifted",
    "Event",
    "RunStarted",
    "SmokeResult",
    "StepEvent",
    "StepTracker",
    "Summary",
    "heartbeat_interval",
    "load_schema",
    "op_name",
    "to_dict",
    "to_json",
]
