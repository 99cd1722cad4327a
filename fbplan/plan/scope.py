"""`--target` and `--exclude`: a plan limited to part of the spec, and what that forces.

A change is never kept without a change it needs, nor left out while one that needs it is
kept: apply could not carry out the one without the other. A change needs the changes of
what it references (a repo, its new bucket) and, when something it references is deleted
or replaced, that reference goes with it (a repo attached to a replaced bucket is replaced
too; a repo's keys go with it).

- `--target ADDR` keeps ADDR, what it contains and what it depends on (as Terraform does),
  and what a kept delete or replace forces on others.
- `--exclude ADDR` leaves out ADDR and what it contains, every change that references a
  left-out change, and every delete or replace a left-out change goes with; each change
  left out for another's sake gets a note naming why.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fbplan.model import State
from fbplan.plan.model import Action, Change, Plan, Unmanaged


def targeted(address: str, targets: Collection[str]) -> bool:
    """Whether `address` is one of `targets` or inside one (`repo.app` holds its keys)."""
    return any(address == t or address.startswith(t + ".") for t in targets)


def limit(
    plan: Plan, desired: State, live: State, targets: Sequence[str], excludes: Sequence[str]
) -> tuple[tuple[Change, ...], tuple[Unmanaged, ...], dict[str, str]]:
    """The plan's changes and unmanaged objects within `targets` and outside `excludes`,
    and the changes left out for another's sake (address -> why)."""
    changes, unmanaged = plan.changes, plan.unmanaged
    if targets:
        keep = _kept(plan, desired, live, targets)
        changes = tuple(c for c in changes if c.address in keep)
        unmanaged = tuple(u for u in unmanaged if targeted(u.address, targets))
    dropped: dict[str, str] = {}
    if excludes:
        left_out, dropped = _left_out(changes, desired, live, excludes)
        changes = tuple(c for c in changes if c.address not in left_out)
        unmanaged = tuple(u for u in unmanaged if not targeted(u.address, excludes))
    return changes, unmanaged, dropped


def scope_notes(
    targets: Sequence[str], excludes: Sequence[str], dropped: dict[str, str]
) -> list[str]:
    notes = []
    if targets:
        notes.append(
            "This plan is limited by --target; other changes may be pending: " + ", ".join(targets)
        )
    if excludes:
        notes.append(
            "This plan leaves out --exclude "
            + ", ".join(excludes)
            + "; their changes, and those that need them, are pending."
        )
    notes += [f"{address}: left out, {why}" for address, why in dropped.items()]
    return notes


def _kept(plan: Plan, desired: State, live: State, targets: Sequence[str]) -> set[str]:
    """Keep the targets, what they contain and what they depend on, and what a kept delete
    or replace forces on others (a repo attached to a replaced bucket, the keys of a
    replaced repo)."""
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
            return keep
        keep = grown


def _left_out(
    changes: Sequence[Change], desired: State, live: State, excludes: Sequence[str]
) -> tuple[set[str], dict[str, str]]:
    """The excluded changes, and those that must go with them (address -> why)."""
    actionable = {c.address: c for c in changes if c.action is not Action.NOOP}
    out = {a for a in actionable if targeted(a, excludes)}
    why: dict[str, str] = {}
    grown = True
    while grown:
        grown = False
        for address, change in actionable.items():
            if address in out:
                continue
            reason = _needs_left_out(change, out, actionable, desired, live)
            if reason:
                out.add(address)
                why[address] = reason
                grown = True
    return out, why


def _needs_left_out(
    change: Change, out: set[str], actionable: dict[str, Change], desired: State, live: State
) -> str | None:
    """Why `change` cannot be carried out while the changes in `out` are not, if so."""
    for ref in _refs_of(change.address, desired, live):
        if ref in out:
            return f"as it needs the change of {ref}, which is left out (--exclude)"
    if change.destructive:
        for other in sorted(out):
            if change.address in _refs_of(other, desired, live):
                return (
                    f"as {other}, which is left out (--exclude), cannot stay as it is while "
                    f"{change.address} is {change.action.value}d"
                )
    return None


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
