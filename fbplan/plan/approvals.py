"""How the spec's `approve:` list names a destructive change ("delete ADDRESS", "replace
ADDRESS"), and which of a plan's deletes and replaces it does not approve yet. Shared by
the safety rule (`fbplan.plan.safety.delete_blocker`) and the renderers, which say what
still needs approval."""

from __future__ import annotations

from collections.abc import Collection

from fbplan.plan.model import Change, Plan


def approval_line(change: Change) -> str:
    """How the spec's `approve:` list names this destructive change."""
    return f"{change.action.value} {change.address}"


def unapproved(plan: Plan, approved: Collection[str]) -> list[str]:
    """The approval lines the plan's deletes and replaces still need."""
    given = set(approved)
    lines = (approval_line(c) for c in plan.changes if c.destructive)
    return [line for line in lines if line not in given]
