"""What the kinds that live under a repository share (`repo.R.SEGMENT.NAME`): storage keys,
AI keys and cloud keys. They are declared in the repo's spec entry, read from the repo list
when it carries them (one request for all repos) and otherwise from the repo's own list
(`/repo/{repoId}/PATH`), and deleted there by id. Storage and AI keys show their secret once,
at creation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from fbplan.kinds.base import ApplyContext, Created, Kind, LiveContext, SpecPath
from fbplan.kinds.repo import RepoKind
from fbplan.model import WORKSPACE_ADDRESS, Resource

_REPOS = RepoKind.section


class RepoChildKind(Kind):
    """A kind listed per repository. Subclasses set `path`, `list_field` (and `repo_field`
    if the repo list carries the objects) and say how an object reads (`from_api`)."""

    parent_kind = "repo"
    repo_field: ClassVar[str | None] = None  # the field of a Repo object that lists them
    list_field: ClassVar[str]  # the field of the list response
    path: ClassVar[str]  # below /repo/{repoId}

    def attrs_from_spec(self, body: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def from_api(self, ctx: LiveContext, item: Mapping[str, Any], parent: str) -> Resource:
        raise NotImplementedError

    def refs(self, name: str, parent: str) -> tuple[str, ...]:
        return (parent,)

    def spec_entries(self, spec: Mapping[str, Any]) -> Iterator[tuple[SpecPath, str, Any]]:
        repos = spec.get(_REPOS)
        for repo_name, repo in (repos if isinstance(repos, Mapping) else {}).items():
            section = repo.get(self.section) if isinstance(repo, Mapping) else None
            for name, body in (section if isinstance(section, Mapping) else {}).items():
                yield (_REPOS, repo_name, self.section, name), name, body

    def declared_addresses(self, spec: Mapping[str, Any]) -> list[str]:
        return [
            self.address(name, RepoKind().address(str(path[1])))
            for path, name, _ in self.spec_entries(spec)
        ]

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for path, name, body in self.spec_entries(spec):
            parent = RepoKind().address(str(path[1]))
            yield Resource(
                self.name,
                self.address(name, parent),
                name,
                attrs=self.attrs_from_spec(body or {}),
                refs=self.refs(name, parent),
                parent=parent,
                protect=bool((body or {}).get("protect", False)),
            )

    def _repos(self, ctx: LiveContext) -> list[Mapping[str, Any]]:
        body = ctx.fetch(RepoKind.path, {"workspaceId": ctx.workspace_id or ""})
        return list(body.get(RepoKind.list_field, []))

    def reads(self, ctx: LiveContext) -> list[tuple[str, Mapping[str, str] | None]]:
        """Each repo's own list, for repos whose list entry does not carry the objects."""
        params = {"workspaceId": ctx.workspace_id or ""}
        if not ctx.workspace_id or not ctx.cached(RepoKind.path, params):
            return []  # known once the repo list is in (the reader asks again then)
        return [
            (f"/repo/{repo['id']}/{self.path}", None)
            for repo in self._repos(ctx)
            if self.repo_field is None or repo.get(self.repo_field) is None
        ]

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        if not ctx.workspace_id:
            return
        for repo in self._repos(ctx):
            parent = ctx.address_of("repo", repo["id"]) or RepoKind().address(repo["name"])
            items = repo.get(self.repo_field) if self.repo_field else None
            if items is None:
                items = ctx.fetch(f"/repo/{repo['id']}/{self.path}").get(self.list_field, [])
            for item in items:
                if not item.get("deletedAt"):
                    yield self.from_api(ctx, {**item, "repoId": repo["id"]}, parent)

    def repo_id(self, ctx: ApplyContext, resource: Resource) -> str:
        return resource.extra.get("repo_id") or ctx.id_of(resource.parent or WORKSPACE_ADDRESS)

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        ctx.api.delete(f"/repo/{self.repo_id(ctx, live)}/{self.path}/{live.id}")


class RepoKeyKind(RepoChildKind):
    """Repo keys with a name and a secret shown once."""

    issues_credentials = True
    data_plane = True

    def attrs_from_api(self, item: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def create_payload(self, desired: Resource, repo_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def update_payload(self, desired: Resource) -> dict[str, Any]:
        raise NotImplementedError

    def from_api(self, ctx: LiveContext, item: Mapping[str, Any], parent: str) -> Resource:
        return Resource(
            self.name,
            self.address(item["name"], parent),
            item["name"],
            attrs=self.attrs_from_api(item),
            refs=(parent,),
            parent=parent,
            id=item["id"],
            extra={"key_id": item.get("key"), "repo_id": item["repoId"]},
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


class RepoApiKeyKind(RepoKeyKind):
    """Repo storage API keys (`repo.R.api_key.NAME`): the S3 key pairs Bridge Nodes accept."""

    name = "repo_api_key"
    segment = "api_key"
    section = "api_keys"
    label = "repo storage API key"
    quota_capability = "REPO_API_KEYS_COUNT"
    repo_field = "apiKeys"
    list_field = "keys"
    path = "apikey"

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
