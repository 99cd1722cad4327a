"""The workspace every other resource lives in (`workspace`). Identity: its name.

The backend lets two workspaces share a name, but fbplan binds a spec to a workspace by
name alone: two live ones of the spec's name stop every run (naming both ids) rather than
binding silently to whichever is listed first, and a create reads the name back to report
a run that created the same workspace at the same time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.errors import ConfigError, StepFailed
from fbplan.kinds.base import ApplyContext, Created, Kind, LiveContext
from fbplan.model import WORKSPACE_ADDRESS, Resource


def workspace_name(spec: Mapping[str, Any]) -> str:
    value = spec["workspace"]
    return str(value["name"] if isinstance(value, Mapping) else value)


def workspace_protected(spec: Mapping[str, Any]) -> bool:
    value = spec["workspace"]
    return isinstance(value, Mapping) and value.get("protect") is True


class WorkspaceKind(Kind):
    name = "workspace"
    segment = "workspace"
    section = "workspace"
    label = "workspace"
    quota_capability = "WORKSPACES_COUNT"
    root = True
    data_plane = True

    def address(self, name: str, parent: str | None = None) -> str:
        return WORKSPACE_ADDRESS

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        name = workspace_name(spec)
        protect = workspace_protected(spec)
        yield Resource(self.name, WORKSPACE_ADDRESS, name, attrs={"name": name}, protect=protect)

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        """The workspace whose id the context holds (the reader finds it by name first)."""
        for item in ctx.fetch("/workspace").get("workspaces", []):
            if item["id"] == ctx.workspace_id:
                yield self._from_api(item)

    def find_by_name(self, ctx: LiveContext, name: str) -> Resource | None:
        found = _named(ctx.fetch("/workspace").get("workspaces", []), name)
        if len(found) > 1:
            raise ConfigError(
                f"{len(found)} workspaces are named {name} (ids {_ids(found)}); fbplan needs the "
                "name to be unique: delete or rename all but one, then run again"
            )
        return self._from_api(found[0]) if found else None

    def _from_api(self, item: Mapping[str, Any]) -> Resource:
        return Resource(
            self.name,
            WORKSPACE_ADDRESS,
            item["name"],
            attrs={"name": item["name"]},
            id=item["id"],
            extra={"org_id": item.get("orgId")},
        )

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        body = ctx.api.post("/workspace", json={"name": desired.name})
        created = Created(body["workspace"]["id"])
        found = _named(ctx.api.get("/workspace").get("workspaces", []), desired.name)
        if len(found) > 1:
            raise StepFailed(
                f"another run created a workspace named {desired.name} at the same time (ids "
                f"{_ids(found)}; this run made {created.id}); delete the one to drop, then apply "
                "again"
            )
        return created

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        ctx.api.put(f"/workspace/{live.id}", json={"name": desired.name})

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        ctx.api.delete(f"/workspace/{live.id}")

    def find(self, ctx: ApplyContext, desired: Resource) -> Resource | None:
        return self.find_by_name(ctx.live_context(), desired.name)


def _named(items: Iterable[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [item for item in items if item.get("name") == name]


def _ids(items: Iterable[Mapping[str, Any]]) -> str:
    return " and ".join(str(item["id"]) for item in items)
