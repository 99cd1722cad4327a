"""The safety rules a plan must pass before apply may carry it out, all of them.

- `protect: true` on a resource blocks any plan that deletes or replaces it.
- A plan that deletes or replaces more than a third of a kind's live objects, when
  there are at least six, is blocked unless forced.
- A plan that creates a key whose secret is shown only once is blocked when there is no
  secret sink, or when the sink's entry for it belongs to another backend or workspace.
- A plan that creates an object whose organization-wide unique name another workspace
  already uses is blocked: the backend would refuse it in the middle of apply.
- A plan that deletes or replaces a bucket, AI LLM or provider key that a live object the
  plan leaves alone still uses is blocked: the backend refuses such a delete (403/400).
- A saved plan that no longer describes this run is blocked (`fbplan.plan.stale`).
- A plan whose creates would take an organization quota over its maximum is blocked
  (`fbplan.plan.quota`).
- Deletes and replaces run only with `--allow-delete`, or when the spec's `approve:` list
  names each of them ("delete ADDRESS", "replace ADDRESS"): approved in review, carried
  out on merge; any other stays refused. Approval never overrides protect or the threshold
  (decided at apply: `delete_blocker`).
- A rule of `--checks FILE` that denies blocks (added by the planner after the others, as
  the checks read the plan's document, blockers included).

The planner computes the blockers once, from the plan and its inputs; apply refuses a plan
that has any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable

from fbplan.kinds import REGISTRY
from fbplan.model import State
from fbplan.plan.approvals import approval_line, unapproved
from fbplan.plan.inputs import NamesElsewhere, PlanInputs, SinkFacts
from fbplan.plan.model import Action, Blocker, Change, Plan
from fbplan.plan.quota import quota_blockers
from fbplan.plan.stale import stale_blockers


def blockers(plan: Plan, inputs: PlanInputs, *, force: bool, saved: Plan | None) -> list[Blocker]:
    """Every blocker of `plan`, computed from it and the inputs it was made from."""
    found = stale_blockers(saved, plan)
    if inputs.names_elsewhere is not None:
        found += name_conflicts(plan, inputs.desired, inputs.names_elsewhere)
    found += plan_blockers(plan, inputs.live, force=force)
    found += in_use_blockers(plan, inputs.live)
    if inputs.sink is not None:
        found += sink_blockers(plan, inputs.sink)
    if plan.quota is not None:
        found += quota_blockers(plan.quota)
    return found


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


def in_use_blockers(plan: Plan, live: State) -> list[Blocker]:
    """Deletes and replaces the backend would refuse in the middle of apply: the object is
    used by a live one that the plan leaves as it is (unmanaged, or outside the plan)."""
    planned = {c.address for c in plan.changes}
    found = []
    for change in plan.changes:
        if not change.destructive or not REGISTRY[change.kind].delete_refused_in_use:
            continue
        users = sorted(
            r.address for r in live if r.address not in planned and change.address in r.refs
        )
        if users:
            message = (
                f"{change.address} is used by {', '.join(users)}, which the plan leaves as it "
                f"is; the backend refuses to delete it while in use: detach it, or declare "
                "those objects in the spec"
            )
            found.append(Blocker("in-use", message, (change.address, *users)))
    return found


def new_keys(plan: Plan) -> tuple[str, ...]:
    """The keys the plan creates (or replaces) whose secret the backend shows only once."""
    return tuple(
        c.address
        for c in plan.changes
        if c.action in (Action.CREATE, Action.REPLACE) and REGISTRY[c.kind].issues_credentials
    )


def sink_blockers(plan: Plan, sink: SinkFacts) -> list[Blocker]:
    """A key's secret is shown once: a plan that creates one with nowhere to keep it, or
    whose sink entry belongs to another environment (writing it would lose that one's
    secret), fails before any change."""
    keys = new_keys(plan)
    if keys and not sink.configured:
        message = (
            f"the plan creates keys whose secret is shown only once ({', '.join(keys)}) but "
            "the spec configures no secrets.sink; add one so no secret is lost"
        )
        return [Blocker("secret-sink", message, keys)]
    foreign = [key for key in keys if key in sink.foreign]
    return [Blocker("secret-sink", sink.foreign[key], (key,)) for key in foreign]


def name_conflicts(plan: Plan, desired: State, names: NamesElsewhere) -> list[Blocker]:
    """Objects the plan creates (a replace creates anew, after its delete) whose
    organization-wide unique name another workspace uses; asks `names` only about the
    kinds created, each (kind, field) once: the answer is a set built from a whole list."""
    found = []
    taken: dict[tuple[str, str], frozenset[str]] = {}
    for change in plan.changes:
        resource = desired.get(change.address)
        if change.action not in (Action.CREATE, Action.REPLACE) or resource is None:
            continue
        for unique in REGISTRY[change.kind].org_unique:
            field = unique.field
            value = resource.name if field == "name" else resource.attrs.get(field)
            if not isinstance(value, str):
                continue
            if (change.kind, field) not in taken:
                taken[change.kind, field] = names.taken(change.kind, field)
            if value in taken[change.kind, field]:
                message = f"{change.address}: {unique.sentence.format(value=value)}"
                found.append(Blocker("name-conflict", message, (change.address,)))
    return found


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


def stale_approvals(changes: Iterable[Change], approved: Collection[str]) -> list[str]:
    """Notes for approvals that match no change of the plan (remove them once applied)."""
    wanted = {approval_line(c) for c in changes if c.destructive}
    return [
        f"approve: {line} matches no change in this plan; remove it from the spec (it was "
        "carried out, or the change it approved is no longer planned)"
        for line in approved
        if line not in wanted
    ]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
