"""The workspace every other resource lives in (`workspace`). Identity: its name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import ApplyContext, Created, Kind, LiveContext
from fbplan.model import WORKSPACE_ADDRESS, Resource


def workspace_name(spec: Mapping[str, Any]) -> str:
    value = spec["workspace"]
    return value["name"] if isinstance(value, Mapping) else value


def workspace_protected(spec: Mapping[str, Any]) -> bool:
    value = spec["workspace"]
    return isinstance(value, Mapping) and value.get("protect") is True


class WorkspaceKind(Kind):
    name = "workspace"
    segment = "workspace"
    section = "workspace"
    label = "workspace"

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
        for item in ctx.fetch("/workspace").get("workspaces", []):
            if item.get("name") == name:
                return self._from_api(item)
        return None

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
        return Created(body["workspace"]["id"])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        ctx.api.put(f"/workspace/{live.id}", json={"name": desired.name})

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        ctx.api.delete(f"/workspace/{live.id}")

    def find(self, ctx: ApplyContext, desired: Resource) -> Resource | None:
        return self.find_by_name(ctx.live_context(), desired.name)
