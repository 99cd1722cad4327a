"""The safety rules a plan must pass before apply may carry it out.

- `protect: true` on a resource blocks any plan that deletes or replaces it.
- A plan that deletes or replaces more than a third of a kind's live objects, when
  there are at least six, is blocked unless forced.
- Deletes and replaces run only with `--allow-delete`, or when the spec's `approve:` list
  names each of them ("delete ADDRESS", "replace ADDRESS"): approved in review, carried
  out on merge; any other stays refused. Approval never overrides protect or the threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from fbplan.kinds import REGISTRY
from fbplan.model import State
from fbplan.plan.model import Blocker, Change, Plan

THRESHOLD_MIN_OBJECTS = 6
THRESHOLD_FRACTION = 1 / 3


def plan_blockers(plan: Plan, live: State, *, force: bool = False) -> list[Blocker]:
    """Blockers that make the plan itself unacceptable (protect, threshold)."""
    blockers = []
    protected = tuple(c.address for c in plan.changes if c.destructive and c.protect)
    if protected:
        blockers.append(
            Blocker(
                "protect",
                f"the plan deletes or replaces protected resources: {', '.join(protected)}",
                protected,
            )
        )
    if not force:
        blockers += _threshold_blockers(plan, live)
    return blockers


def _threshold_blockers(plan: Plan, live: State) -> list[Blocker]:
    destroyed = Counter(c.kind for c in plan.changes if c.destructive)
    blockers = []
    for kind, count in sorted(destroyed.items()):
        total = len(live.of_kind(kind))
        if total >= THRESHOLD_MIN_OBJECTS and count > total * THRESHOLD_FRACTION:
            addresses = tuple(c.address for c in plan.changes if c.destructive and c.kind == kind)
            label = REGISTRY[kind].label
            blockers.append(
                Blocker(
                    "threshold",
                    f"the plan deletes or replaces {count} of {total} live {label} objects "
                    "(more than a third); re-run with --force if this is intended",
                    addresses,
                )
            )
    return blockers


def delete_blocker(
    plan: Plan, *, allow_delete: bool, approved: Collection[str] = ()
) -> Blocker | None:
    """The blocker for deletes and replaces neither allowed by --allow-delete nor approved
    in the spec, if any."""
    if allow_delete:
        return None
    pending = unapproved(plan, approved)
    if not pending:
        return None
    lines = ", ".join(pending[:5]) + (", ..." if len(pending) > 5 else "")
    return Blocker(
        "allow-delete",
        f"the plan deletes or replaces {_count(len(pending), 'resource')} not approved "
        f"({lines}); approve each in the spec's approve: list, reviewed in the pull request, "
        "or re-run apply with --allow-delete",
        tuple(line.split(" ", 1)[1] for line in pending),
    )


def approval_line(change: Change) -> str:
    """How the spec's `approve:` list names this destructive change."""
    return f"{change.action.value} {change.address}"


def unapproved(plan: Plan, approved: Collection[str]) -> list[str]:
    """The approval lines the plan's deletes and replaces still need."""
    given = set(approved)
    lines = (approval_line(c) for c in plan.changes if c.destructive)
    return [line for line in lines if line not in given]


def stale_approvals(plan: Plan, approved: Collection[str]) -> list[str]:
    """Notes for approvals that match no change of the plan (remove them once applied)."""
    wanted = {approval_line(c) for c in plan.changes if c.destructive}
    return [
        f"approve: {line} matches no change in this plan; remove it from the spec (it was "
        "carried out, or the change it approved is no longer planned)"
        for line in approved
        if line not in wanted
    ]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
