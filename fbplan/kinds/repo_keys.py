"""What repo storage keys and repo AI keys share: they live under a repo, are read from
the repo list when it carries them (one request for all repos) and otherwise from the
repo's own list, and their secret is shown once, at creation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from fbplan.kinds.base import ApplyContext, Created, Kind, LiveContext
from fbplan.model import WORKSPACE_ADDRESS, Resource


class RepoKeyKind(Kind):
    parent_kind = "repo"
    issues_credentials = True
    spec_field: ClassVar[str]  # the repo's spec field: api_keys or ai_api_keys
    repo_field: ClassVar[str]  # the field of a Repo object that lists them
    list_field: ClassVar[str]  # the field of the list response
    path: ClassVar[str]  # below /repo/{repoId}

    def attrs_from_spec(self, body: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def attrs_from_api(self, item: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def create_payload(self, desired: Resource, repo_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def update_payload(self, desired: Resource) -> dict[str, Any]:
        raise NotImplementedError

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for repo_name, repo in (spec.get("repos") or {}).items():
            parent = f"repo.{repo_name}"
            for name, body in (repo.get(self.spec_field) or {}).items():
                yield Resource(
                    self.name,
                    self.address(name, parent),
                    name,
                    attrs=self.attrs_from_spec(body or {}),
                    refs=(parent,),
                    parent=parent,
                    protect=bool((body or {}).get("protect", False)),
                )

    def reads(self, ctx: LiveContext) -> list[tuple[str, Mapping[str, str] | None]]:
        """Each repo's own key list, for repos whose list entry does not carry its keys."""
        params = {"workspaceId": ctx.workspace_id or ""}
        if not ctx.workspace_id or not ctx.cached("/repo", params):
            return []  # known once the repo list is in (the reader asks again then)
        repos = ctx.fetch("/repo", params).get("repos", [])
        return [
            (f"/repo/{repo['id']}/{self.path}", None)
            for repo in repos
            if repo.get(self.repo_field) is None
        ]

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        if not ctx.workspace_id:
            return
        repos = ctx.fetch("/repo", {"workspaceId": ctx.workspace_id}).get("repos", [])
        for repo in repos:
            parent = ctx.address_of("repo", repo["id"]) or f"repo.{repo['name']}"
            items = repo.get(self.repo_field)
            if items is None:
                items = ctx.fetch(f"/repo/{repo['id']}/{self.path}").get(self.list_field, [])
            for item in items:
                if item.get("deletedAt"):
                    continue
                yield Resource(
                    self.name,
                    self.address(item["name"], parent),
                    item["name"],
                    attrs=self.attrs_from_api(item),
                    refs=(parent,),
                    parent=parent,
                    id=item["id"],
                    extra={"key_id": item.get("key"), "repo_id": repo["id"]},
                )

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        repo_id = ctx.id_of(desired.parent or WORKSPACE_ADDRESS)
        payload = self.create_payload(desired, repo_id)
        body = ctx.api.post(f"/repo/{repo_id}/{self.path}", json=payload)
        secrets = {"key": body.get("key") or "", "secret": body.get("secret") or ""}
        return Created(body["id"], one_time_secrets=secrets, extra={"repo_id": repo_id})

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        repo_id = ctx.id_of(desired.parent or WORKSPACE_ADDRESS)
        ctx.api.put(f"/repo/{repo_id}/{self.path}/{live.id}", json=self.update_payload(desired))

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        repo_id = live.extra.get("repo_id") or ctx.id_of(live.parent or WORKSPACE_ADDRESS)
        ctx.api.delete(f"/repo/{repo_id}/{self.path}/{live.id}")


class RepoApiKeyKind(RepoKeyKind):
    """Repo storage API keys (`repo.R.api_key.NAME`): the S3 key pairs Bridge Nodes accept."""

    name = "repo_api_key"
    segment = "api_key"
    section = "api_keys"
    label = "repo storage API key"
    quota_capability = "REPO_API_KEYS_COUNT"
    spec_field = "api_keys"
    repo_field = "apiKeys"
    list_field = "keys"
    path = "apikey"
    updatable = frozenset({"access"})

    def attrs_from_spec(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"access": str(body["access"]).upper()}

    def attrs_from_api(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"access": str(item.get("accessType") or "").upper()}

    def create_payload(self, desired: Resource, repo_id: str) -> dict[str, Any]:
        """`CreateRepoKeyRequest`: the official client sends the repo id in the body too."""
        return {"repoId": repo_id, **self.update_payload(desired)}

    def update_payload(self, desired: Resource) -> dict[str, Any]:
        return {"name": desired.name, "accessType": desired.attrs["access"]}


class RepoAiApiKeyKind(RepoKeyKind):
    """Repo AI API keys (`repo.R.ai_api_key.NAME`): bearer keys for the AI gateway. Only the
    name can change, so a new `ai_type` means a new key."""

    name = "repo_ai_api_key"
    segment = "ai_api_key"
    section = "ai_api_keys"
    label = "repo AI API key"
    quota_capability = "REPO_AI_API_KEYS_COUNT"
    spec_field = "ai_api_keys"
    repo_field = "aiApiKeys"
    list_field = "apiKeys"
    path = "ai/apikey"
    replace_on = frozenset({"ai_type"})

    def attrs_from_spec(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"ai_type": str(body["ai_type"]).upper()}

    def attrs_from_api(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"ai_type": str(item.get("aiType") or "").upper()}

    def create_payload(self, desired: Resource, repo_id: str) -> dict[str, Any]:
        return {"name": desired.name, "aiType": desired.attrs["ai_type"]}

    def update_payload(self, desired: Resource) -> dict[str, Any]:
        """`UpdateRepoAiApiKeyRequest`: only the name can change."""
        return {"name": desired.name}
