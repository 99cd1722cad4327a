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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fbplan.checks.results import CheckResults
    from fbplan.plan.quota import QuotaReport

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
class ChangedBy:
    """The latest write to an object, from the backend's system events (drift reports)."""

    user: str
    at: str
    event: str

    def describe(self) -> str:
        verb = "changed" if self.event == "updated" else self.event or "changed"
        return f"{verb} by {self.user} at {self.at}"


@dataclass(frozen=True)
class Ignored:
    """Drift the spec's `ignore` section accepts: the differing `fields` of a declared
    resource (live -> spec), or, with no fields, an unmanaged object whose name matches an
    accepted pattern. `rule` names the entry of `ignore` that matched."""

    address: str
    kind: str
    rule: str
    fields: tuple[FieldChange, ...] = ()
    live_id: str | None = None


@dataclass(frozen=True)
class Blocker:
    """A safety rule that stops apply (exit 3): `rule` is protect, threshold, allow-delete,
    secret-sink, name-conflict, in-use, stale-plan, quota or check (plan/safety.py)."""

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
    ignored: tuple[Ignored, ...] = ()  # drift the spec's `ignore` accepts
    approved: tuple[str, ...] = ()  # the spec's `approve:` list ("delete ADDR")
    changed_by: Mapping[str, ChangedBy] = field(default_factory=dict)  # drift: address -> who
    attribution: str | None = None  # drift: None not looked up, "" read, else why not
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
    checks: CheckResults | None = None  # what `--checks FILE` found, when given
    quota: QuotaReport | None = None  # the organization's quota and credits (plan/quota.py)
    format_version: int = PLAN_FORMAT_VERSION

    def __post_init__(self) -> None:
        sequences = ("changes", "unmanaged", "notes", "blockers", "ignored", "approved")
        for name in (*sequences, "rotate", "targets", "excludes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("variables", "changed_by"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

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
