"""AI LLM configurations, `/ai/llm` (`ai_llm.NAME`): one upstream model provider each.

Credentials are inline (`key`, `secret`, both write-only: the API returns `key` null or
masked and never `secret`) or a provider key. Every field updates in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import ApplyContext, Created, LiveContext, drop_none, secrets_of
from fbplan.kinds.common import UsesProviderKey, provider_key_refs
from fbplan.model import WORKSPACE_ADDRESS, Resource
from fbplan.secrets.values import reveal


class AiLlmKind(UsesProviderKey):
    name = "ai_llm"
    segment = "ai_llm"
    section = "ai_llms"
    label = "AI LLM configuration"
    quota_capability = "AI_LLMS_COUNT"
    updatable = frozenset({"ai_type", "endpoint", "provider_key", "key", "secret"})
    secret_fields = ("key", "secret")

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for name, body in (spec.get(self.section) or {}).items():
            provider_key = body.get("provider_key") or None
            yield Resource(
                self.name,
                self.address(name),
                name,
                attrs={
                    "ai_type": str(body["ai_type"]).upper(),
                    "endpoint": body.get("endpoint") or None,
                    "provider_key": provider_key,
                },
                secrets=secrets_of(body, self.secret_fields),
                refs=provider_key_refs(provider_key),
                protect=bool(body.get("protect", False)),
            )

    def reads(self, ctx: LiveContext) -> list[tuple[str, Mapping[str, str] | None]]:
        return [("/ai/llm", {"workspaceId": ctx.workspace_id})] if ctx.workspace_id else []

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        if not ctx.workspace_id:
            return
        body = ctx.fetch("/ai/llm", {"workspaceId": ctx.workspace_id})
        for item in body.get("aiLlms", []):
            provider_key = ctx.name_of("provider_key", item.get("apiKeyId"))
            yield Resource(
                self.name,
                self.address(item["name"]),
                item["name"],
                attrs={
                    "ai_type": str(item.get("aiType") or "").upper(),
                    "endpoint": item.get("endpoint") or None,
                    "provider_key": provider_key,
                },
                refs=provider_key_refs(provider_key),
                id=item["id"],
            )

    def _payload(self, ctx: ApplyContext, desired: Resource) -> dict[str, Any]:
        provider_key = desired.attrs.get("provider_key")
        payload = {
            "name": desired.name,
            "aiType": desired.attrs["ai_type"],
            "endpoint": desired.attrs.get("endpoint"),
            "apiKeyUuid": ctx.id_of(f"provider_key.{provider_key}") if provider_key else None,
        }
        payload.update({f: reveal(v) for f, v in desired.secrets.items()})
        return payload

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        payload = drop_none(self._payload(ctx, desired)) | {
            "workspaceId": ctx.id_of(WORKSPACE_ADDRESS)
        }
        body = ctx.api.post("/ai/llm", json=payload)
        return Created(body["aiLlmId"])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        # PUT changes only the fields present: null clears an endpoint (`string | null` in the
        # contract); `apiKeyUuid` has no null and is sent only when the spec names a provider
        # key. Write-only secrets are sent only when the spec has them.
        body = {k: v for k, v in self._payload(ctx, desired).items() if k != "apiKeyUuid" or v}
        ctx.api.put(f"/ai/llm/{live.id}", json=body)

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        ctx.api.delete(f"/ai/llm/{live.id}")
