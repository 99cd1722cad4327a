"""From the request and the inputs read before planning to a checked Plan, computed once.

`make_plan` and `destroy_plan` are the only places a Plan is built for a command: the diff,
the limits of `--target` and `--exclude` (`fbplan.plan.scope`), the notes, the blockers
(`fbplan.plan.safety`) and the digests are all computed here, and the Plan is never
changed afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fbplan.checks import Checks, evaluate
from fbplan.kinds import KINDS
from fbplan.model import State
from fbplan.plan.diff import delete_change, diff
from fbplan.plan.document import to_document
from fbplan.plan.inputs import PlanInputs, PlanRequest
from fbplan.plan.model import Blocker, Change, Plan, Unmanaged
from fbplan.plan.quota import credit_notes, quota_report
from fbplan.plan.safety import blockers, stale_approvals
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
    if not (request.targets or request.excludes):  # a limited plan may leave them out
        notes += stale_approvals(changes, inputs.approved)
    plan = _finish(request, inputs, changes, unmanaged, notes, force=request.force)
    return plan if request.checks is None else with_checks(plan, request.checks)


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
    quota = None
    if inputs.quota is not None:
        quota = quota_report(changes, inputs.quota, _counted_by())
        notes = [*notes, *inputs.quota.notes, *credit_notes(quota)]
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
        quota=quota,
        ignored=inputs.ignored,
        approved=inputs.approved,
    )
    return replace(plan, blockers=tuple(blockers(plan, inputs, force=force, saved=request.saved)))


def with_checks(plan: Plan, checks: Checks) -> Plan:
    """The plan with what the checks found over its JSON document (redacted: no secret
    reaches a rule); each rule that denies is one more blocker, naming the rule and the
    resources. Last, as the rules read the plan's blockers too."""
    results = evaluate(checks, to_document(plan))
    denied = tuple(
        Blocker("check", sentence, addresses) for sentence, addresses in results.blocking()
    )
    return replace(plan, checks=results, blockers=(*plan.blockers, *denied))


def _counted_by() -> dict[str, str]:
    """Which quota capability counts each kind's objects (the kinds' own word)."""
    return {kind.name: kind.quota_capability for kind in KINDS if kind.quota_capability}


def _hidden_namesakes(live: State, desired: State) -> list[str]:
    """Notes for organization policies left alone although the spec names a policy so."""
    return [
        f"{hidden.address}: an organization-scope policy named {hidden.name} exists; fbplan "
        "leaves it alone, as it may belong to another workspace's spec (delete it by hand if "
        "it was this spec's)"
        for hidden in live.hidden
        if hidden.address in desired.resources
    ]
