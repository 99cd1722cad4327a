"""Read a workspace's live objects into a State: one list call per kind, not per resource."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from fbplan.kinds import KINDS, Kind, LiveContext
from fbplan.kinds.base import DEFAULT_PARALLELISM, Api, read_parallelism
from fbplan.kinds.workspace import WorkspaceKind
from fbplan.model import Resource, State


def read_org_id(api: Api) -> str | None:
    return (api.get("/user/profile").get("data") or {}).get("orgId")


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

    Lists that need only the workspace id are fetched together, then those that need the
    ids of other objects (policies per repo): a refresh takes three round trips after the
    workspace is found, however large the workspace. `keep` leaves out live objects that
    are not the caller's business (see `Kind.belongs`). `parallelism` (apply's) bounds the
    lists in flight at once: `read_parallelism` of it. `keys` addresses live objects by
    the spec key of the entry whose `name:` names them (`renamed_keys`); `generate_keys`
    (export) gives a valid spec key to each name that is not one.
    """
    needs_org = any(kind.needs_org for kind in kinds)
    state = State(workspace, org_id=read_org_id(api) if needs_org else None)
    ctx = LiveContext(
        api,
        state.org_id,
        None,
        workers=read_parallelism(parallelism),
        keys=dict(keys or {}),
        generate_keys=generate_keys,
    )
    found = WorkspaceKind().find_by_name(ctx, workspace)
    if found is not None:  # else only organization-wide objects can exist yet
        ctx.workspace_id = found.id
        state.add(found)
        ctx.remember(found)
    ctx.prefetch(request for kind in kinds for request in kind.reads(ctx))
    for kind in kinds:
        if isinstance(kind, WorkspaceKind):
            continue
        ctx.prefetch(kind.reads(ctx))  # reads that needed ids of kinds read just before
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
