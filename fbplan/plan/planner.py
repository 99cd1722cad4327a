"""From a loaded spec and a live State to a checked Plan."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from fbplan.backend.live import live_digest
from fbplan.model import State
from fbplan.plan.diff import DiffSettings, SecretHeldFn, SecretStatusFn, delete_change, diff
from fbplan.plan.model import Plan
from fbplan.plan.safety import plan_blockers


@dataclass(frozen=True)
class PlanOptions:
    prune: frozenset[str] = frozenset()
    rotate: frozenset[str] = frozenset()
    targets: tuple[str, ...] = ()
    force: bool = False
    secret_status: SecretStatusFn | None = None
    secret_held: SecretHeldFn | None = None
    spec_digest: str = ""
    spec_path: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    extra_notes: list[str] = field(default_factory=list)


def make_plan(desired: State, live: State, options: PlanOptions) -> Plan:
    settings = DiffSettings(
        prune=options.prune,
        rotate=options.rotate,
        secret_status=options.secret_status,
        secret_held=options.secret_held,
    )
    plan = diff(desired, live, settings)
    if options.targets:
        _restrict(plan, desired, live, options.targets)
    plan.notes = [*live.notes, *options.extra_notes, *plan.notes]
    plan.blockers = plan_blockers(plan, live, force=options.force)
    plan.spec_digest = options.spec_digest
    plan.spec_path = options.spec_path
    plan.live_digest = live_digest(live)
    plan.rotate = sorted(options.rotate)
    plan.targets = list(options.targets)
    plan.variables = dict(options.variables)
    plan.force = options.force
    return plan


def destroy_plan(desired: State, live: State, options: PlanOptions) -> Plan:
    """Delete every declared resource that exists, and nothing else; protect still holds.

    Keys of a declared repo go with it (shown as such). The workspace itself is deleted
    only when nothing the spec does not declare is left in it: deleting it would take
    those objects along (or the backend refuses), and they are not this spec's to destroy.
    """
    plan = Plan(workspace=desired.workspace)
    doomed = {r.address for r in desired if r.address in live.resources}
    undeclared = [
        r
        for r in live
        if r.address not in doomed and r.kind != "workspace" and r.parent not in doomed
    ]
    for have in live:
        want = desired.get(have.address)
        if have.address not in doomed and have.parent not in doomed:
            continue
        if have.kind == "workspace" and undeclared:
            plan.notes.append(
                "The workspace is kept: it holds objects this spec does not declare ("
                + ", ".join(r.address for r in undeclared[:10])
                + (", ..." if len(undeclared) > 10 else "")
                + ")."
            )
            continue
        reason = "declared in the spec being destroyed" if want else f"goes with {have.parent}"
        plan.changes.append(delete_change(have, reason, protect=bool(want and want.protect)))
    plan.blockers = plan_blockers(plan, live, force=True)
    plan.spec_digest, plan.spec_path = options.spec_digest, options.spec_path
    plan.live_digest = live_digest(live)
    return plan


def targeted(address: str, targets: Collection[str]) -> bool:
    return any(address == t or address.startswith(t + ".") for t in targets)


def _restrict(plan: Plan, desired: State, live: State, targets: tuple[str, ...]) -> None:
    """Keep the targets, what they contain and what they depend on (as Terraform does), and
    what a kept delete or replace forces on others (a repo attached to a replaced bucket,
    the keys of a replaced repo): apply could not carry out the one without the other."""
    keep = {a for a in desired.resources if targeted(a, targets)} | {
        c.address for c in plan.changes if targeted(c.address, targets)
    }
    actionable = {c.address: c for c in plan.actionable}
    while True:
        grown = _with_dependencies(keep, desired)
        destroyed = {a for a in grown if a in actionable and actionable[a].destructive}
        grown |= {
            address for address in actionable if destroyed & set(_refs_of(address, desired, live))
        }
        if grown == keep:
            break
        keep = grown
    plan.changes = [c for c in plan.changes if c.address in keep]
    plan.unmanaged = [u for u in plan.unmanaged if targeted(u.address, targets)]
    plan.notes.append(
        "This plan is limited by --target; other changes may be pending: " + ", ".join(targets)
    )


def _refs_of(address: str, desired: State, live: State) -> tuple[str, ...]:
    return tuple(ref for state in (desired, live) if (r := state.get(address)) for ref in r.refs)


def _with_dependencies(addresses: set[str], desired: State) -> set[str]:
    result, pending = set(addresses), list(addresses)
    while pending:
        resource = desired.get(pending.pop())
        for ref in resource.refs if resource else ():
            if ref not in result:
                result.add(ref)
                pending.append(ref)
    return result
