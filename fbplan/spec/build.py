"""Turn a validated spec into the desired State, through each kind's `desired`.

Everything `fbplan validate` needs beyond the loader lives here, apart from the backend
client and the apply machinery, so that validating a spec starts fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fbplan.errors import SpecError
from fbplan.kinds import KINDS, REGISTRY, Kind
from fbplan.kinds.workspace import workspace_name
from fbplan.model import State
from fbplan.plan.graph import find_reference_cycle
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
    desired = build_desired(spec.data)
    cycle = find_reference_cycle(desired)
    if cycle:
        path_key = ("workspace",)
        raise SpecError([spec.problem(path_key, "dependency cycle: " + " -> ".join(cycle))])
    return spec, desired


def spec_warnings(spec: Spec, desired: State) -> list[str]:
    """What `validate` points out beyond the spec's own problems."""
    keys = [r.address for r in desired if REGISTRY[r.kind].issues_credentials]
    if keys and not (spec.data.get("secrets") or {}).get("sink"):
        return [
            f"{spec.location(('repos',))}: the spec declares keys ({', '.join(keys)}) but no "
            "secrets.sink: a plan that creates one is blocked, as its secret would be lost"
        ]
    return []


def build_desired(data: Mapping[str, Any], kinds: Sequence[Kind] = KINDS) -> State:
    state = State(workspace_name(data))
    for kind in kinds:
        for resource in kind.desired(data):
            state.add(resource)
    return state


def kinds_to_read(data: Mapping[str, Any], kinds: Sequence[Kind] = KINDS) -> list[Kind]:
    """The kinds a plan must read live. AI policies are the one kind whose listing costs a
    request per repo; a spec that declares none and does not prune them skips it."""
    wanted = [k for k in kinds if k.name != "policy"]
    if data.get("policies") or "policies" in prune_sections(data):
        wanted = list(kinds)
    return wanted
