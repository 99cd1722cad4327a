"""Stale saved plans: every check that a reviewed plan still describes this run, in one place.

`apply --plan FILE` carries out a saved plan only if planning again now, against the same
backend and organization, from the same spec and the same live state, gives exactly the
saved changes. The planner runs `stale_blockers` once, with the saved plan as an input;
each finding is a `stale-plan` blocker, so a stale plan exits 3 like any other blocked one.
"""

from __future__ import annotations

import hashlib
import json

from fbplan.model import State
from fbplan.plan.document import to_document
from fbplan.plan.model import Blocker, Plan

RULE = "stale-plan"


def live_digest(state: State) -> str:
    """A digest of everything the plan depends on in the live State."""
    rows = [[r.address, r.id, dict(r.attrs)] for r in state]
    text = json.dumps(rows, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stale_blockers(saved: Plan | None, now: Plan) -> list[Blocker]:
    """Why `saved` may not be carried out by this run, whose plan is `now` (the first
    reason found: the others follow from it)."""
    if saved is None:
        return []
    reason = _moved(saved, now)
    return [Blocker(RULE, reason)] if reason else []


def _moved(saved: Plan, now: Plan) -> str | None:
    if saved.backend and (saved.backend, saved.org_id) != (now.backend, now.org_id):
        return (
            f"the plan was made against {_backend_name(saved.backend)} (organization "
            f"{saved.org_id}), and this run is against {_backend_name(now.backend)} "
            f"(organization {now.org_id}); make a new plan against this backend"
        )
    if saved.spec_digest != now.spec_digest:
        return (
            f"the spec {saved.spec_path}, or a value it reads with ${{env:}} or ${{file:}}, "
            "changed since the plan was saved; plan again"
        )
    if saved.live_digest != now.live_digest:
        return "the live workspace changed since the plan was saved; make a new plan"
    return _other_changes(saved, now)


def _other_changes(saved: Plan, now: Plan) -> str | None:
    then, current = (to_document(p)["changes"] for p in (saved, now))
    if current == then:
        return None
    differ = sorted({c["address"] for c in current} ^ {c["address"] for c in then}) or sorted(
        a["address"] for a, b in zip(current, then, strict=False) if a != b
    )
    return (
        "planning again gives other changes than the saved plan (a value from the "
        f"environment or a file changed?) at {', '.join(differ[:5])}; make a new plan"
    )


def _backend_name(backend: str) -> str:
    return "the embedded emulator (--local)" if backend == "local" else backend
