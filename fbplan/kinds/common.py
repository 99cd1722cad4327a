"""What several kinds share: spellings the two API sources disagree on, normalized once,
and the references of objects that may use a provider key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import LiveContext, Reference, WorkspaceListKind
from fbplan.model import WORKSPACE_ADDRESS, Resource

STORAGE_TYPE_ALIASES = {"AZURE": "BLOB"}
MODE_ALIASES = {"BACKUP": "MIRROR"}


def storage_type(value: str | None) -> str | None:
    """`AZURE` ([D]) and `BLOB` ([C]) are one storage type; fbplan speaks `BLOB`."""
    if value is None:
        return None
    upper = value.upper()
    return STORAGE_TYPE_ALIASES.get(upper, upper)


def repo_mode(value: str | None) -> str | None:
    """`BACKUP` ([D]) is read as `MIRROR` ([C])."""
    if value is None:
        return None
    upper = value.upper()
    return MODE_ALIASES.get(upper, upper)


def bucket_id_of(item: Mapping[str, Any]) -> str | None:
    """A repo attachment's bucket id, in the new (`bucketId`) or legacy (`unitId`) spelling."""
    nested = item.get("bucket") or item.get("unit") or {}
    return item.get("bucketId") or item.get("unitId") or nested.get("id")


_DETACH = "a provider key cannot be detached in place (the API has no way to clear it)"


class UsesProviderKey(WorkspaceListKind):
    """A kind whose objects may take their credentials from a provider key (buckets, AI
    LLMs). Moving from a provider key to inline credentials is a replace: the contract has no
    null for `apiKeyUuid`, so an update cannot detach the provider key."""

    references = (Reference("provider_key", ("provider_key",)),)

    def attrs_from_api(self, item: Mapping[str, Any], provider_key: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def extra_from_api(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def from_api(self, ctx: LiveContext, item: Mapping[str, Any]) -> Resource:
        provider_key = ctx.name_of("provider_key", item.get("apiKeyId"))
        return Resource(
            self.name,
            self.address(ctx.key_of(self.name, item["name"])),
            item["name"],
            attrs=self.attrs_from_api(item, provider_key),
            refs=provider_key_refs(provider_key),
            id=item["id"],
            extra=self.extra_from_api(item),
        )

    def replace_reasons(
        self, before: Mapping[str, Any], after: Mapping[str, Any], changed: Iterable[str]
    ) -> list[str]:
        reasons = super().replace_reasons(before, after, changed)
        if before.get("provider_key") and not after.get("provider_key"):
            reasons.append(_DETACH)
        return reasons


def provider_key_refs(provider_key: str | None) -> tuple[str, ...]:
    """A bucket's or AI LLM's references: its workspace, and its provider key if any."""
    if provider_key:
        return (WORKSPACE_ADDRESS, f"provider_key.{provider_key}")
    return (WORKSPACE_ADDRESS,)
