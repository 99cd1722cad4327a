"""Provider (cloud/AI) API keys, `/apikeys` (`provider_key.NAME`).

The API gives provider keys no name: fbplan stores the spec name in `description`, the
only label a key has, and identifies keys by it. Keys without a description are never
fbplan's; they show as unmanaged by id. The secret is write-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import (
    UNNAMED,
    ApplyContext,
    Created,
    LiveContext,
    WorkspaceListKind,
    backend_name,
    drop_none,
    secrets_of,
    update_body,
)
from fbplan.model import WORKSPACE_ADDRESS, Resource
from fbplan.secrets.values import reveal

FIELDS = {
    "provider": "provider",
    "key": "key",
    "endpoint": "endpoint",
    "region": "region",
    "tenant_id": "tenantId",
    "subscription_id": "subscriptionId",
}


class ProviderKeyKind(WorkspaceListKind):
    name = "provider_key"
    segment = "provider_key"
    section = "provider_keys"
    label = "provider key"
    renames_in_place = True  # its update takes the name
    quota_capability = "API_KEYS_COUNT"
    delete_refused_in_use = True  # used by a bucket or AI LLM: 400
    path = "/apikeys"
    list_field = "apiKeys"
    secret_fields = ("secret",)
    adopt_by_id = True

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for name, body in (spec.get(self.section) or {}).items():
            attrs = {field: body.get(field) or None for field in FIELDS}
            attrs["provider"] = str(body["provider"]).upper()
            yield Resource(
                self.name,
                self.address(name),
                backend_name(name, body),
                attrs=attrs,
                secrets=secrets_of(body, self.secret_fields),
                refs=(WORKSPACE_ADDRESS,),
                protect=bool(body.get("protect", False)),
            )

    def from_api(self, ctx: LiveContext, item: Mapping[str, Any]) -> Resource:
        name = item.get("description") or f"{UNNAMED}{item['id']}"
        attrs = {field: item.get(api) or None for field, api in FIELDS.items()}
        attrs["provider"] = str(item.get("provider") or "").upper()
        return Resource(
            self.name,
            self.address(ctx.key_of(self.name, name, item["id"])),
            name,
            attrs=attrs,
            refs=(WORKSPACE_ADDRESS,),
            id=item["id"],
            extra={"buckets": item.get("bucket_count"), "ai_llms": item.get("aillm_count")},
        )

    def _payload(self, desired: Resource) -> dict[str, Any]:
        payload = {api: desired.attrs.get(field) for field, api in FIELDS.items()}
        payload["description"] = desired.name
        payload.update({f: reveal(v) for f, v in desired.secrets.items()})
        return payload

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        payload = drop_none(self._payload(desired)) | {"workspaceId": ctx.id_of(WORKSPACE_ADDRESS)}
        body = ctx.api.post(self.path, json=payload)
        return Created(body["apiKeyId"])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        # PUT changes only the fields present.
        body = update_body(self._payload(desired), FIELDS, live)
        ctx.api.put(f"{self.path}/{live.id}", json=body)
