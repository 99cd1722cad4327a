"""The safety rules a plan must pass before apply may carry it out.

- `protect: true` on a resource blocks any plan that deletes or replaces it.
- A plan that deletes or replaces more than a third of a kind's live objects, when
  there are at least six, is blocked unless forced.
- Deletes and replaces run only with `--allow-delete`.
"""

from __future__ import annotations

from collections import Counter

from fbplan.kinds import REGISTRY
from fbplan.model import State
from fbplan.plan.model import Blocker, Plan

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


def delete_blocker(plan: Plan, *, allow_delete: bool) -> Blocker | None:
    """The blocker for deletes and replaces without --allow-delete, if any."""
    destructive = tuple(c.address for c in plan.changes if c.destructive)
    if not destructive or allow_delete:
        return None
    return Blocker(
        "allow-delete",
        f"the plan deletes or replaces {_count(len(destructive), 'resource')}; "
        "re-run apply with --allow-delete to carry it out",
        destructive,
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
