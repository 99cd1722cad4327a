"""Turn a validated spec into the desired State, through each kind's `desired`.

Everything `fbplan validate` needs beyond the loader lives here, apart from the backend
client and the apply machinery, so that validating a spec starts fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fbplan.errors import SpecError
from fbplan.kinds import KINDS, REGISTRY, Kind
from fbplan.kinds.workspace import workspace_name
from fbplan.model import Resource, State
from fbplan.plan.graph import find_reference_cycle
from fbplan.secrets.values import Sourced
from fbplan.spec.ignore import ignore_problems, ignore_warnings
from fbplan.spec.loader import Spec, load_spec, prune_sections


def load_desired(
    path: str | Path,
    *,
    cli_vars: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> tuple[Spec, State]:
    """The spec, validated, and the desired State built from it (no request is sent)."""
    spec = load_spec(path, cli_vars=cli_vars, env=env, require_env=require_env)
    if problems := ignore_problems(spec):
        raise SpecError(problems)
    desired = build_desired(spec.data)
    cycle = find_reference_cycle(desired)
    if cycle:
        path_key = ("workspace",)
        raise SpecError([spec.problem(path_key, "dependency cycle: " + " -> ".join(cycle))])
    return spec, desired


def spec_warnings(spec: Spec, desired: State) -> list[str]:
    """What `validate` points out beyond the spec's own problems."""
    warnings = ignore_warnings(spec, desired)
    keys = [r.address for r in desired if REGISTRY[r.kind].issues_credentials]
    if keys and not (spec.data.get("secrets") or {}).get("sink"):
        warnings.insert(
            0,
            f"{spec.location(('repos',))}: the spec declares keys ({', '.join(keys)}) but no "
            "secrets.sink: a plan that creates one is blocked, as its secret would be lost",
        )
    return warnings


def build_desired(data: Mapping[str, Any], kinds: Sequence[Kind] = KINDS) -> State:
    state = State(workspace_name(data))
    for kind in kinds:
        for resource in kind.desired(data):
            state.add(_keep_references(resource, _body(data, kind, resource)))
    return state


def _body(data: Mapping[str, Any], kind: Kind, resource: Resource) -> Mapping[str, Any]:
    """The spec entry a resource was built from (empty for the workspace)."""
    holder: Any = data
    if kind.parent_kind and resource.parent:
        parent = REGISTRY[kind.parent_kind]
        holder = _entry(data.get(parent.section), resource.parent.rsplit(".", 1)[-1])
    return _entry(holder.get(kind.section), resource.name) if isinstance(holder, Mapping) else {}


def _entry(section: Any, name: str) -> Mapping[str, Any]:
    entry = section.get(name) if isinstance(section, Mapping) else None
    return entry if isinstance(entry, Mapping) else {}


def _keep_references(resource: Resource, body: Mapping[str, Any]) -> Resource:
    """A kind may normalize a field (upper-case an enum) and so lose the `Sourced` type of a
    value the spec takes from the environment or a file: give it back, so that the plan
    still shows the reference, not the (normalized) value."""
    attrs = resource.attrs
    lost = {  # the spec's few `Sourced` values, not every attribute (issue 9)
        name: Sourced(attrs[name], written.written)
        for name, written in body.items()
        if isinstance(written, Sourced)
        and isinstance(attrs.get(name), str)
        and not isinstance(attrs[name], Sourced)
    }
    return replace(resource, attrs={**attrs, **lost}) if lost else resource


def kinds_to_read(data: Mapping[str, Any], kinds: Sequence[Kind] = KINDS) -> list[Kind]:
    """The kinds a plan must read live. A kind whose listing costs a request per parent
    (`Kind.read_on_demand`: AI policies, per repo) is skipped by a spec that declares none
    and does not prune them."""
    pruned = prune_sections(data)
    return [
        kind
        for kind in kinds
        if not kind.read_on_demand or kind.prune_key in pruned or kind.declared(data)
    ]
