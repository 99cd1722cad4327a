"""AI policies, `/policy` (`policy.NAME`), at organization, workspace or repo scope.

The scope is set by which ids a policy carries and cannot change: a new scope is a replace.
The API's numeric `actionType` is `action: log | alert | block` in the spec. Policies at
organization scope belong to the whole organization, not to this workspace: fbplan lists
unmanaged ones but never prunes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import ApplyContext, Created, Kind, LiveContext, Reference, backend_name
from fbplan.model import WORKSPACE_ADDRESS, Resource

ACTIONS = {"log": 0, "alert": 1, "block": 2}
ACTION_NAMES = {number: name for name, number in ACTIONS.items()}
ORGANIZATION = "organization"
WORKSPACE = "workspace"


def _refs(scope: str) -> tuple[str, ...]:
    if scope.startswith("repo:"):
        return (WORKSPACE_ADDRESS, f"repo.{scope.removeprefix('repo:')}")
    return (WORKSPACE_ADDRESS,)


class PolicyKind(Kind):
    name = "policy"
    segment = "policy"
    section = "policies"
    label = "AI policy"
    renames_in_place = True  # its update takes the name
    quota_capability = "POLICIES_COUNT"
    replace_on = frozenset({"scope"})
    references = (Reference("repo", ("scope",), prefix="repo:"),)
    needs_org = True
    read_on_demand = True

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for name, body in (spec.get(self.section) or {}).items():
            attrs = {
                "scope": body["scope"],
                "risk": str(body["risk"]).upper(),
                "action": str(body["action"]).lower(),
                "content": body["content"],
            }
            yield Resource(
                self.name,
                self.address(name),
                backend_name(name, body),
                attrs=attrs,
                refs=_refs(attrs["scope"]),
                protect=bool(body.get("protect", False)),
            )

    def _queries(self, ctx: LiveContext) -> list[dict[str, str]]:
        """Org level, workspace level, and one per repo: the API lists one scope at a time."""
        if not ctx.org_id:
            return []
        if not ctx.workspace_id:
            return [{"orgId": ctx.org_id}]
        queries = [{"orgId": ctx.org_id}, {"orgId": ctx.org_id, "workspaceId": ctx.workspace_id}]
        for repo_id in sorted(ctx.addresses_of_kind("repo").values()):
            queries.append({**queries[1], "repoId": repo_id})
        return queries

    def reads(self, ctx: LiveContext) -> list[tuple[str, Mapping[str, str] | None]]:
        return [("/policy", params) for params in self._queries(ctx)]

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        seen: set[str] = set()
        for params in self._queries(ctx):
            for item in ctx.fetch("/policy", params).get("policies", []):
                resource = self._from_api(ctx, item)
                if resource and resource.id not in seen:
                    seen.add(resource.id or "")
                    yield resource

    def _from_api(self, ctx: LiveContext, item: Mapping[str, Any]) -> Resource | None:
        if item.get("repoId"):
            repo = ctx.name_of("repo", item["repoId"])
            scope = f"repo:{repo}"
        elif item.get("workspaceId"):
            if item["workspaceId"] != ctx.workspace_id:
                return None  # another workspace's policy
            scope = WORKSPACE
        else:
            scope = ORGANIZATION
        action: Any = item.get("actionType")  # a number, or what the API sent instead
        attrs = {
            "scope": scope,
            "risk": str(item.get("riskType") or "").upper(),
            "action": ACTION_NAMES.get(action, str(action)),
            "content": item.get("content") or "",
        }
        return Resource(
            self.name,
            self.address(ctx.key_of(self.name, item["name"])),
            item["name"],
            attrs=attrs,
            refs=_refs(scope),
            id=item["id"],
        )

    def prunable(self, live: Resource) -> bool:
        return live.attrs.get("scope") != ORGANIZATION

    def belongs(self, live: Resource, desired: Resource | None) -> bool:
        """An organization policy is every workspace's neighbour: a spec sees one only when
        it declares that very policy at organization scope, so that another spec's org
        policy is never drift, never pruned, and never replaced by a same-named policy."""
        if live.attrs.get("scope") != ORGANIZATION:
            return True
        return desired is not None and desired.attrs.get("scope") == ORGANIZATION

    def find(self, ctx: ApplyContext, desired: Resource) -> Resource | None:
        """Look in the desired scope only (the repo scope needs the repo's id)."""
        live_ctx = ctx.live_context()
        params = {"orgId": ctx.org_id or ""}
        scope_ids = self._scope_ids(ctx, desired.attrs["scope"])
        params.update({k: v for k, v in scope_ids.items() if v})
        for item in live_ctx.fetch("/policy", params).get("policies", []):
            if item.get("name") == desired.name:
                return self._from_api(live_ctx, item)
        return None

    def _scope_ids(self, ctx: ApplyContext, scope: str) -> dict[str, Any]:
        if scope == ORGANIZATION:
            return {"workspaceId": None, "repoId": None}
        ids: dict[str, Any] = {"workspaceId": ctx.id_of(WORKSPACE_ADDRESS), "repoId": None}
        if scope.startswith("repo:"):
            ids["repoId"] = ctx.id_of(f"repo.{scope.removeprefix('repo:')}")
        return ids

    def _fields(self, desired: Resource) -> dict[str, Any]:
        return {
            "name": desired.name,
            "content": desired.attrs["content"],
            "riskType": desired.attrs["risk"],
            "actionType": ACTIONS[desired.attrs["action"]],
        }

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        payload = {
            **self._fields(desired),
            "orgId": ctx.org_id,
            **self._scope_ids(ctx, desired.attrs["scope"]),
        }
        body = ctx.api.post("/policy", json=payload)
        return Created(body["policy"]["id"])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        ctx.api.put(f"/policy/{live.id}", json=self._fields(desired))

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        ctx.api.delete(f"/policy/{live.id}")
