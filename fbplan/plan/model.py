"""The Plan: plain, sorted, serializable data. No API handles, no secret values.

A `Change` per address says what apply will do and why; the Plan adds the addresses
fbplan leaves alone (unmanaged), notes for the reader, safety findings, and digests of
the spec and of the live snapshot it was computed from (so a saved plan can refuse to run
against a world that moved).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

PLAN_FORMAT_VERSION = 1


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"


@dataclass(frozen=True)
class FieldChange:
    """One field's before -> after. A sensitive field shows no value on either side."""

    field: str
    before: Any
    after: Any
    sensitive: bool = False


@dataclass(frozen=True)
class Change:
    address: str
    kind: str
    action: Action
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    fields: tuple[FieldChange, ...] = ()
    reasons: tuple[str, ...] = ()
    new_credentials: bool = False
    protect: bool = False
    live_id: str | None = None

    @property
    def destructive(self) -> bool:
        return self.action in (Action.DELETE, Action.REPLACE)


@dataclass(frozen=True)
class Unmanaged:
    """A live object of a declared kind that the spec does not name."""

    address: str
    kind: str
    live_id: str | None
    prunable: bool = True


@dataclass(frozen=True)
class Blocker:
    """A safety rule that stops apply (exit 3): `rule` is protect, threshold, allow-delete,
    secret-sink, name-conflict or stale-plan (plan/safety.py)."""

    rule: str
    message: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Computed once, by the planner, and never changed afterwards: its sequences are
    tuples (lists given to the constructor are turned into tuples)."""

    workspace: str
    changes: tuple[Change, ...] = ()
    unmanaged: tuple[Unmanaged, ...] = ()
    notes: tuple[str, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    spec_digest: str = ""
    live_digest: str = ""
    spec_path: str = ""
    rotate: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)  # --var values (never secrets)
    force: bool = False
    backend: str = ""  # the backend's URL (`local`: the embedded emulator) it was made against
    org_id: str = ""  # and the organization; a saved plan is refused anywhere else
    format_version: int = PLAN_FORMAT_VERSION

    def __post_init__(self) -> None:
        for name in ("changes", "unmanaged", "notes", "blockers", "rotate", "targets", "excludes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))

    @property
    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        return bool(self.actionable)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    def summary(self) -> str:
        if not self.has_changes:
            return "No changes. The live workspace matches the spec."
        return (
            f"Plan: {self.count(Action.CREATE)} to create, {self.count(Action.UPDATE)} to update, "
            f"{self.count(Action.REPLACE)} to replace, {self.count(Action.DELETE)} to delete."
        )

    def change(self, address: str) -> Change | None:
        return next((c for c in self.changes if c.address == address), None)
