"""Read a workspace's live objects into a State: one list call per kind, not per resource."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fbplan.kinds import KINDS, Kind, LiveContext
from fbplan.kinds.base import DEFAULT_PARALLELISM, Api, read_parallelism
from fbplan.kinds.workspace import WorkspaceKind
from fbplan.kinds.workspace_member import PROFILE
from fbplan.model import Resource, State

WORKSPACES = "/workspace"


def read_org_id(api: Api) -> str | None:
    return _org_id(api.get(PROFILE))


def _org_id(profile: Any) -> str | None:
    return (profile.get("data") or {}).get("orgId")


def read_live(
    api: Api,
    workspace: str,
    kinds: Sequence[Kind] = KINDS,
    keep: Callable[[Resource], bool] | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    keys: Mapping[tuple[str, str], str] | None = None,
    generate_keys: bool = False,
) -> State:
    """Every object of `kinds` in the named workspace; an empty State if it does not exist.

    The workspace list and the user profile (for the organization id, when a kind needs
    it) are fetched together; then the lists that need only the workspace id, together;
    then those that need the ids of other objects (policies per repo, `--parallelism`
    bounds them): a refresh takes three round trips (plus one for every further batch of
    per-repo lists), however large the workspace. `keep` leaves out live objects that
    are not the caller's business (see `Kind.belongs`). `parallelism` (apply's) bounds the
    lists in flight at once: `read_parallelism` of it. `keys` addresses live objects by
    the spec key of the entry whose `name:` names them (`renamed_keys`); `generate_keys`
    (export) gives a valid spec key to each name that is not one.
    """
    needs_org = any(kind.needs_org for kind in kinds)
    ctx = LiveContext(
        api,
        None,
        None,
        workers=read_parallelism(parallelism),
        keys=dict(keys or {}),
        generate_keys=generate_keys,
    )
    ctx.prefetch([*([(PROFILE, None)] if needs_org else []), (WORKSPACES, None)])
    ctx.org_id = _org_id(ctx.fetch(PROFILE)) if needs_org else None
    state = State(workspace, org_id=ctx.org_id)
    found = WorkspaceKind().find_by_name(ctx, workspace)
    if found is not None:  # else only organization-wide objects can exist yet
        ctx.workspace_id = found.id
        state.add(found)
        ctx.remember(found)
    remaining = [kind for kind in kinds if not isinstance(kind, WorkspaceKind)]
    for index, kind in enumerate(remaining):
        if not all(ctx.cached(*request) for request in kind.reads(ctx)):
            # Every read possible now, of this kind and those after it, goes out at once:
            # those that needed the ids of kinds read just before (per repo: cloud keys,
            # policies) share one round trip.
            ctx.prefetch(request for later in remaining[index:] for request in later.reads(ctx))
        for resource in kind.live(ctx):
            if keep is not None and not keep(resource):
                state.hidden.append(resource)
                continue
            if resource.address in state.resources:
                state.notes.append(
                    f"two live objects share the address {resource.address}; fbplan manages "
                    f"id {state.resources[resource.address].id} and leaves id {resource.id} alone"
                )
                continue
            state.add(resource)
            ctx.remember(resource)
    return state
