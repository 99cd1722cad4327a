"""Buckets, `/bucket` (`bucket.NAME`): one real provider bucket each.

`bucket` (the provider's bucket name) and `storage_type` force a replace: changing them in
place would silently point every repo using the bucket at other data (open question 7 of
the API reference; fbplan takes the safe reading). The secret is write-only: the API
returns only an encrypted envelope, which is never compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import (
    ApplyContext,
    Created,
    OrgUnique,
    backend_name,
    drop_none,
    secrets_of,
    update_body,
)
from fbplan.kinds.common import UsesProviderKey, provider_key_refs, storage_type
from fbplan.model import WORKSPACE_ADDRESS, Resource
from fbplan.secrets.values import reveal

# Optional string fields an update clears when the spec drops them (attribute -> API field).
CLEARABLE = {"region": "region", "endpoint": "endpoint", "key": "key"}


class BucketKind(UsesProviderKey):
    name = "bucket"
    segment = "bucket"
    section = "buckets"
    label = "bucket"
    renames_in_place = True  # its update takes the name
    quota_capability = "BUCKETS_COUNT"
    path = "/bucket"
    list_field = "buckets"
    replace_on = frozenset({"bucket", "storage_type"})
    secret_fields = ("secret",)
    org_unique = (
        OrgUnique(
            "name",
            "name",
            "the bucket name {value!r} is already used in another workspace of the "
            "organization; bucket names are unique in the organization, rename it in the spec",
        ),
        OrgUnique(
            "bucket",
            "bucket",
            "the provider bucket {value!r} is already registered in another workspace of the "
            "organization",
        ),
    )
    delete_refused_in_use = True  # attached to a repository: 403
    data_plane = True

    def exports_secret(self, attrs: Mapping[str, Any], field: str) -> bool:
        """Inline credentials only: the key id is read back, the secret is not."""
        return bool(attrs.get("key")) and not attrs.get("provider_key")

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for name, body in (spec.get(self.section) or {}).items():
            provider_key = body.get("provider_key")
            yield Resource(
                self.name,
                self.address(name),
                backend_name(name, body),
                attrs={
                    "bucket": body["bucket"],
                    "storage_type": storage_type(body["storage_type"]),
                    "region": body.get("region") or None,
                    "endpoint": body.get("endpoint") or None,
                    "provider_key": provider_key or None,
                    "key": body.get("key") or None,
                },
                secrets=secrets_of(body, self.secret_fields),
                refs=provider_key_refs(provider_key),
                protect=bool(body.get("protect", False)),
            )

    def attrs_from_api(self, item: Mapping[str, Any], provider_key: str | None) -> dict[str, Any]:
        return {
            "bucket": item.get("bucket"),
            "storage_type": storage_type(item.get("storageType")),
            "region": item.get("region") or None,
            "endpoint": item.get("endpoint") or None,
            "provider_key": provider_key,
            "key": None if provider_key else (item.get("key") or None),
        }

    def extra_from_api(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"status": item.get("status")}

    def _payload(self, ctx: ApplyContext, desired: Resource) -> dict[str, Any]:
        attrs = desired.attrs
        provider_key = attrs.get("provider_key")
        payload = {
            "name": desired.name,
            "bucket": attrs["bucket"],
            "storageType": attrs["storage_type"],
            "workspaceId": ctx.id_of(WORKSPACE_ADDRESS),
            "region": attrs.get("region"),
            "endpoint": attrs.get("endpoint"),
            "key": attrs.get("key"),
            "apiKeyUuid": ctx.id_of(f"provider_key.{provider_key}") if provider_key else None,
        }
        payload.update({f: reveal(v) for f, v in desired.secrets.items()})
        return payload

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        body = ctx.api.post(self.path, json=drop_none(self._payload(ctx, desired)))
        return Created(body["bucketId"])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        # The client types the update body as the full create body: always send all of it.
        body = update_body(self._payload(ctx, desired), CLEARABLE, live)
        ctx.api.put(f"{self.path}/{live.id}", json=body)
