"""From the request and the inputs read before planning to a checked Plan, computed once.

`make_plan` and `destroy_plan` are the only places a Plan is built for a command: the diff,
the limits of `--target` and `--exclude` (`fbplan.plan.scope`), the notes, the blockers
(`fbplan.plan.safety`) and the digests are all computed here, and the Plan is never
changed afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fbplan.model import State
from fbplan.plan.diff import delete_change, diff
from fbplan.plan.inputs import PlanInputs, PlanRequest
from fbplan.plan.model import Change, Plan, Unmanaged
from fbplan.plan.safety import blockers
from fbplan.plan.scope import limit, scope_notes
from fbplan.plan.stale import live_digest


def make_plan(request: PlanRequest, inputs: PlanInputs) -> Plan:
    desired, live = inputs.desired, inputs.live
    found = diff(
        desired,
        live,
        prune=inputs.prune,
        rotate=frozenset(request.rotate),
        secret_status=inputs.secret_status,
        secret_held=inputs.secret_held,
    )
    changes, unmanaged, dropped = limit(found, desired, live, request.targets, request.excludes)
    notes = [
        *live.notes,
        *found.notes,
        *scope_notes(request.targets, request.excludes, dropped),
        *_hidden_namesakes(live, desired),
    ]
    return _finish(request, inputs, changes, unmanaged, notes, force=request.force)


def destroy_plan(request: PlanRequest, inputs: PlanInputs) -> Plan:
    """Delete every declared resource that exists, and nothing else; protect still holds.

    Keys of a declared repo go with it (shown as such). The workspace itself is deleted
    only when nothing the spec does not declare is left in it: deleting it would take
    those objects along (or the backend refuses), and they are not this spec's to destroy.
    """
    desired, live = inputs.desired, inputs.live
    doomed = {r.address for r in desired if r.address in live.resources}
    undeclared = [
        r
        for r in live
        if r.address not in doomed and r.kind != "workspace" and r.parent not in doomed
    ]
    changes: list[Change] = []
    notes: list[str] = []
    for have in live:
        want = desired.get(have.address)
        if have.address not in doomed and have.parent not in doomed:
            continue
        if have.kind == "workspace" and undeclared:
            notes.append(
                "The workspace is kept: it holds objects this spec does not declare ("
                + ", ".join(r.address for r in undeclared[:10])
                + (", ..." if len(undeclared) > 10 else "")
                + ")."
            )
            continue
        reason = "declared in the spec being destroyed" if want else f"goes with {have.parent}"
        changes.append(delete_change(have, reason, protect=bool(want and want.protect)))
    plain = PlanRequest(request.spec_path, request.cli_vars, env=request.env)
    return _finish(plain, inputs, changes, (), notes, force=True)


def _finish(
    request: PlanRequest,
    inputs: PlanInputs,
    changes: Sequence[Change],
    unmanaged: Sequence[Unmanaged],
    notes: Sequence[str],
    *,
    force: bool,
) -> Plan:
    plan = Plan(
        workspace=inputs.desired.workspace,
        changes=tuple(changes),
        unmanaged=tuple(unmanaged),
        notes=tuple(notes),
        spec_digest=inputs.spec_digest,
        live_digest=live_digest(inputs.live),
        spec_path=str(request.spec_path),
        rotate=tuple(sorted(request.rotate)),
        targets=tuple(request.targets),
        excludes=tuple(request.excludes),
        variables=dict(request.cli_vars),
        force=request.force,
        backend=inputs.backend,
        org_id=inputs.org_id,
    )
    return replace(plan, blockers=tuple(blockers(plan, inputs, force=force, saved=request.saved)))


def _hidden_namesakes(live: State, desired: State) -> list[str]:
    """Notes for organization policies left alone although the spec names a policy so."""
    return [
        f"{hidden.address}: an organization-scope policy named {hidden.name} exists; fbplan "
        "leaves it alone, as it may belong to another workspace's spec (delete it by hand if "
        "it was this spec's)"
        for hidden in live.hidden
        if hidden.address in desired.resources
    ]
