"""The diff: a pure function from (desired State, live State, settings) to a Plan.

Kinds have already normalized both sides, so a field differs only when the world must
change. Write-only secrets cannot be compared with the live side; `secret_status` says,
from the local fingerprints, whether a desired secret is unchanged, changed or untracked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fbplan.kinds import REGISTRY
from fbplan.kinds.base import UNNAMED, Kind
from fbplan.model import WORKSPACE_ADDRESS, Resource, State
from fbplan.plan.model import Action, Change, FieldChange, Plan, Unmanaged
from fbplan.secrets.values import MASK, Secret, carries_source

SecretStatus = Literal["unchanged", "changed", "untracked"]
SecretStatusFn = Callable[[str, str, Secret], SecretStatus]
SecretHeldFn = Callable[[Resource], bool]
SECRET_NOT_IN_SINK = "secret not in the sink: new credentials"
KIND_ORDER = {name: index for index, name in enumerate(REGISTRY)}


@dataclass(frozen=True)
class _Settings:
    prune: frozenset[str]
    rotate: frozenset[str]
    secret_status: SecretStatusFn | None
    secret_held: SecretHeldFn | None


@dataclass
class _Draft:
    """The diff's working lists, frozen into a Plan once complete."""

    changes: list[Change] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def shown(resource: Resource) -> dict[str, Any]:
    """A resource's fields as a plan shows them: attrs, plus secret fields masked."""
    return {**resource.attrs, **{name: MASK for name in resource.secrets}}


def diff(
    desired: State,
    live: State,
    *,
    prune: frozenset[str] = frozenset(),
    rotate: frozenset[str] = frozenset(),
    secret_status: SecretStatusFn | None = None,
    secret_held: SecretHeldFn | None = None,
) -> Plan:
    """`prune`: the spec sections whose unmanaged objects are planned as deletes.
    `rotate`: addresses whose credentials or secrets must be renewed.
    `secret_status`: from the local fingerprints, whether a desired secret changed.
    `secret_held`: whether the secret sink holds a live key's one-time secret (None: not
    known, e.g. a remote sink); a key it does not hold is replaced."""
    settings = _Settings(prune, rotate, secret_status, secret_held)
    draft = _Draft()
    for address in sorted(
        set(desired.resources) | set(live.resources), key=_order_key(desired, live)
    ):
        want, have = desired.get(address), live.get(address)
        if want and not have:
            draft.changes.append(_create(want))
        elif have and not want:
            _absent_from_spec(draft, have, settings)
        elif want and have:
            draft.changes.append(_compare(want, have, settings, draft.notes))
    _cascade(draft, desired, live)
    return Plan(desired.workspace, tuple(draft.changes), tuple(draft.unmanaged), tuple(draft.notes))


def _order_key(desired: State, live: State) -> Callable[[str], tuple[int, str]]:
    def key(address: str) -> tuple[int, str]:
        resource = desired.get(address) or live.get(address)
        return (KIND_ORDER.get(resource.kind, 99) if resource else 99, address)

    return key


def delete_change(have: Resource, reason: str, *, protect: bool = False) -> Change:
    """The deletion of a live object, with why."""
    return Change(
        have.address,
        have.kind,
        Action.DELETE,
        before=dict(have.attrs),
        reasons=(reason,),
        protect=protect,
        live_id=have.id,
    )


def _create(want: Resource) -> Change:
    return Change(want.address, want.kind, Action.CREATE, after=shown(want), protect=want.protect)


def _absent_from_spec(plan: _Draft, have: Resource, settings: _Settings) -> None:
    kind = REGISTRY[have.kind]
    if kind.section in settings.prune and kind.prunable(have):
        plan.changes.append(delete_change(have, "not in the spec, and prune is on"))
    else:
        plan.unmanaged.append(Unmanaged(have.address, have.kind, have.id, kind.prunable(have)))


def _compare(want: Resource, have: Resource, settings: _Settings, notes: list[str]) -> Change:
    kind = REGISTRY[want.kind]
    changed = sorted(
        f for f in set(want.attrs) | set(have.attrs) if want.attrs.get(f) != have.attrs.get(f)
    )
    fields = [_field_change(f, have.attrs.get(f), want.attrs.get(f)) for f in changed]
    if _renamed(kind, want, have):
        fields.append(FieldChange("name", have.name, want.name))
    fields += _secret_changes(want, settings, notes)
    reasons = kind.replace_reasons(have.attrs, want.attrs, changed)
    rotating = want.address in settings.rotate
    if rotating and kind.issues_credentials:
        reasons.append("rotation requested (--rotate)")
    elif kind.issues_credentials and settings.secret_held and not settings.secret_held(have):
        reasons.append(SECRET_NOT_IN_SINK)
    if reasons:
        action = Action.REPLACE
    elif fields:
        action = Action.UPDATE
    else:
        action = Action.NOOP
    return Change(
        want.address,
        want.kind,
        action,
        before={**have.attrs, **_unshown(want), **{s: MASK for s in want.secrets}},
        after=shown(want),
        fields=tuple(fields),
        reasons=tuple(reasons),
        new_credentials=action is Action.REPLACE and kind.issues_credentials,
        protect=want.protect,
        live_id=have.id,
    )


def _renamed(kind: Kind, want: Resource, have: Resource) -> bool:
    """A live object matched under another name (`renamed_from:`) that its kind renames in
    place. One known only by id (`match:`) keeps its lack of a name."""
    return kind.renames_in_place and want.name != have.name and not have.name.startswith(UNNAMED)


def _field_change(name: str, before: Any, after: Any) -> FieldChange:
    """A changed field; when the spec's value comes from the environment or a file, the
    live value it replaces is not shown either (it is most likely the previous value)."""
    return FieldChange(name, MASK if carries_source(after) else before, after)


def _unshown(want: Resource) -> dict[str, str]:
    """The live fields a plan must not show: those whose spec value comes from the
    environment or a file."""
    return {name: MASK for name, value in want.attrs.items() if carries_source(value)}


def _secret_changes(want: Resource, settings: _Settings, notes: list[str]) -> list[FieldChange]:
    rotating = want.address in settings.rotate
    changes = []
    for name, value in sorted(want.secrets.items()):
        status = (
            settings.secret_status(want.address, name, value)
            if settings.secret_status
            else "untracked"
        )
        if rotating or status == "changed":
            changes.append(FieldChange(name, MASK, MASK, sensitive=True))
        elif status == "untracked":
            notes.append(
                f"{want.address}: {name} is untracked (no fingerprint recorded here); it is not "
                f"planned as changed. Use --rotate {want.address} to write it."
            )
    return changes


def _cascade(plan: _Draft, desired: State, live: State) -> None:
    """Propagate replaces and deletes to what cannot survive them.

    A resource the spec keeps is replaced when something it will still reference is
    replaced: a repo attached to a replaced bucket or AI LLM (the backend refuses to delete
    an attached bucket, and the new one gets a new id), a key of a replaced repo. What it
    references is read from the spec, so a repo that detaches a bucket is only updated.
    Unmanaged children of a replaced or deleted repo go with it, and the plan says so.
    """
    changed = True
    while changed:
        changed = False
        gone = {c.address for c in plan.changes if c.destructive}
        for index, change in enumerate(plan.changes):
            if change.action not in (Action.UPDATE, Action.NOOP):
                continue
            resource = desired.get(change.address) or live.get(change.address)
            hit = next((r for r in (resource.refs if resource else ()) if r in gone), None)
            if hit is None or hit == WORKSPACE_ADDRESS:
                continue
            plan.changes[index] = _replaced_with(change, hit)
            changed = True
    _doomed_children(plan, live)


def _doomed_children(plan: _Draft, live: State) -> None:
    gone = {c.address: c.action for c in plan.changes if c.destructive}
    kept = []
    for item in plan.unmanaged:
        resource = live.get(item.address)
        parent = resource.parent if resource else None
        if resource is None or parent not in gone:
            kept.append(item)
            continue
        fate = "deleted" if gone[parent] is Action.DELETE else "replaced"
        plan.changes.append(
            delete_change(resource, f"not in the spec; goes with {parent}, which is {fate}")
        )
    plan.unmanaged = kept  # one pass: removing each from the list would be quadratic


def _replaced_with(change: Change, cause: str) -> Change:
    kind = REGISTRY[change.kind]
    relation = "its parent" if cause.startswith("repo.") else "attached"
    return Change(
        change.address,
        change.kind,
        Action.REPLACE,
        before=change.before,
        after=change.after,
        fields=change.fields,
        reasons=(*change.reasons, f"{relation} {cause} is replaced"),
        new_credentials=kind.issues_credentials,
        protect=change.protect,
        live_id=change.live_id,
    )
