"""Names the backend will refuse: checked before apply, so that no apply stops half-way.

Bucket names (and the provider bucket each registers) are unique in the whole organization,
not only in a workspace, and so may be repository names (the API reference leaves their
scope open; fbplan takes the safe reading). A plan that creates one whose name another
workspace already uses would fail in the middle of apply; fbplan finds it first, with one
organization-wide list call per kind concerned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds import REGISTRY
from fbplan.kinds.base import Api
from fbplan.model import State
from fbplan.plan.model import Action, Plan


def name_conflicts(api: Api, plan: Plan, desired: State, live: State) -> list[str]:
    """One sentence per object the plan creates whose name is taken in another workspace."""
    creating = (Action.CREATE, Action.REPLACE)  # a replace creates anew, after its delete
    created = [
        r
        for r in (desired.resources[c.address] for c in plan.changes if c.action in creating)
        if REGISTRY[r.kind].org_unique_name
    ]
    buckets = [r for r in created if r.kind == "bucket"]
    repos = [r for r in created if r.kind == "repo"]
    problems: list[str] = []
    if buckets:
        others = _elsewhere(api.get("/bucket").get("buckets", []), live.workspace_id)
        for want in buckets:
            problems += _bucket_conflicts(want.address, want.name, want.attrs["bucket"], others)
    if repos:
        others = _elsewhere(api.get("/repo").get("repos", []), live.workspace_id)
        names = {item.get("name") for item in others}
        problems += [
            f"{want.address}: the repository name {want.name!r} is already used in another "
            "workspace of the organization; rename it in the spec"
            for want in repos
            if want.name in names
        ]
    return problems


def _elsewhere(
    items: Iterable[Mapping[str, Any]], workspace_id: str | None
) -> list[Mapping[str, Any]]:
    return [item for item in items if item.get("workspaceId") != workspace_id]


def _bucket_conflicts(
    address: str, name: str, provider_bucket: str, others: list[Mapping[str, Any]]
) -> list[str]:
    problems = []
    if any(item.get("name") == name for item in others):
        problems.append(
            f"{address}: the bucket name {name!r} is already used in another workspace of the "
            "organization; bucket names are unique in the organization, rename it in the spec"
        )
    if any(item.get("bucket") == provider_bucket for item in others):
        problems.append(
            f"{address}: the provider bucket {provider_bucket!r} is already registered in another "
            "workspace of the organization"
        )
    return problems
