"""The events of a run (`apply`, `destroy`, `drift`) as plain data.

One type per event; each becomes one JSON line (`to_json`) or one text line (see
`fbplan.events.render`). The JSON form is versioned (`EVENTS_VERSION`) and described by
`schemas/events.schema.json` and `docs/events.md`: additive changes (a new key, a new
event type) keep the version; any other change bumps it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

from fbplan.printable import json_safe
from fbplan.secrets.values import redact

EVENTS_VERSION = 1

StepType = Literal["step_started", "step_running", "step_completed", "step_failed", "step_skipped"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunStarted:
    """A run begins: what it will do, where."""

    command: str  # apply, destroy or drift
    workspace: str
    backend: str
    counts: Mapping[str, int]  # apply/destroy: the plan's actions; drift: changed, missing...
    steps: int | None = None  # apply/destroy: how many steps (a replace is two)
    type: str = field(default="run_started", init=False)


@dataclass(frozen=True)
class StepEvent:
    """A step of apply or destroy: one create, update or delete of one address.

    `step` is its number in the run (counted as steps start or are skipped), out of
    `steps`; `duration_ms` is set once it ends (and, as the time so far, while it runs)."""

    type: StepType
    address: str
    kind: str
    action: str  # create, update or delete
    step: int
    steps: int
    duration_ms: int | None = None
    error: str | None = None  # step_failed: one sentence
    reason: str | None = None  # step_skipped: why


@dataclass(frozen=True)
class SmokeResult:
    """One smoke check after apply: `passed`, `failed` or `blocked` (by quota)."""

    check: str  # storage or ai
    target: str  # e.g. "storage app/app-rw"
    address: str  # the key the check used
    outcome: str
    duration_ms: int
    endpoint: str | None = None
    error: str | None = None
    type: str = field(default="smoke_result", init=False)


@dataclass(frozen=True)
class Drifted:
    """One drifted resource: `changed` (fields differ), `missing` or `unmanaged`."""

    address: str
    kind: str
    drift: str
    action: str  # what apply would do about it (unmanaged objects: none unless pruned)
    fields: tuple[str, ...] = ()
    type: str = field(default="drift", init=False)


@dataclass(frozen=True)
class Summary:
    """The run's outcome: its counters and the exit code the command ends with."""

    command: str
    counts: Mapping[str, int]
    exit_code: int
    duration_ms: int
    error: str | None = None  # the one-sentence reason a run stopped before its end
    type: str = field(default="summary", init=False)


Event = RunStarted | StepEvent | SmokeResult | Drifted | Summary


def to_dict(event: Event) -> dict[str, Any]:
    """The event's JSON object: `version` and `type` first, then its fields (None left out),
    every string redacted."""
    body: dict[str, Any] = {"version": EVENTS_VERSION, "type": event.type, "time": _now()}
    for item in fields(event):
        value = getattr(event, item.name)
        if item.name != "type" and value is not None:
            body[item.name] = _plain(value)
    return body


def to_json(event: Event) -> str:
    """One line of JSON, redacted and safe to print (control characters escaped)."""
    return json_safe(redact(json.dumps(to_dict(event), ensure_ascii=False)))


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def load_schema() -> dict[str, Any]:
    """The JSON Schema of one event line (`schemas/events.schema.json`, packaged)."""
    text = resources.files("fbplan").joinpath("schemas/events.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
