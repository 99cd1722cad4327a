"""Turn a validated spec into the desired State, through each kind's `desired`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fbplan.kinds import KINDS, Kind
from fbplan.kinds.workspace import workspace_name
from fbplan.model import State
from fbplan.spec.loader import prune_sections


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
