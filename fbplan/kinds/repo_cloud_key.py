"""Repository cloud keys, `/repo/{repoId}/cloud-apikey` (`repo.R.cloud_key.PROVIDER_KEY`):
a link from a repository to one of the workspace's provider keys (flashback-api.md section 9).

A link has no name and nothing to change: it is named after the provider key it links, so
`cloud_keys: {aws-main: {}}` in a repo's entry links provider key `aws-main`, and linking
another key is a new link. It carries no secret of its own (the provider key holds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fbplan.kinds.base import ApplyContext, Created, LiveContext, Reference
from fbplan.kinds.provider_key import ProviderKeyKind
from fbplan.kinds.repo_keys import RepoChildKind
from fbplan.model import Resource


class RepoCloudKeyKind(RepoChildKind):
    name = "repo_cloud_key"
    segment = "cloud_key"
    section = "cloud_keys"
    label = "repo cloud key"
    path = "cloud-apikey"
    list_field = "items"
    references = (Reference("provider_key"),)
    read_on_demand = True  # one request per repo, and most specs link none

    def attrs_from_spec(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def refs(self, name: str, parent: str) -> tuple[str, ...]:
        if name.startswith("id:"):
            return (parent,)
        return (parent, ProviderKeyKind().address(name))

    def from_api(self, ctx: LiveContext, item: Mapping[str, Any], parent: str) -> Resource:
        name = ctx.name_of("provider_key", item.get("apiKeyId")) or f"id:{item['id']}"
        return Resource(
            self.name,
            self.address(name, parent),
            name,
            refs=self.refs(name, parent),
            parent=parent,
            id=item["id"],
            extra={"repo_id": item["repoId"], "provider": item.get("provider")},
        )

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        repo_id = self.repo_id(ctx, desired)
        key_id = ctx.id_of(ProviderKeyKind().address(desired.name))
        body = ctx.api.post(f"/repo/{repo_id}/{self.path}", json={"apiKeyId": key_id})
        return Created(body["id"], extra={"repo_id": repo_id})

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        """Nothing of a link changes in place (it has no attributes)."""
