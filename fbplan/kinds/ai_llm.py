"""AI LLM configurations, `/ai/llm` (`ai_llm.NAME`): one upstream model provider each.

Credentials are inline (`key`, `secret`, both write-only: the API returns `key` null or
masked and never `secret`) or a provider key. Every field updates in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import ApplyContext, Created, backend_name, drop_none, secrets_of
from fbplan.kinds.common import UsesProviderKey, provider_key_refs
from fbplan.model import WORKSPACE_ADDRESS, Resource
from fbplan.secrets.values import reveal


class AiLlmKind(UsesProviderKey):
    name = "ai_llm"
    segment = "ai_llm"
    section = "ai_llms"
    label = "AI LLM configuration"
    renames_in_place = True  # its update takes the name
    quota_capability = "AI_LLMS_COUNT"
    delete_refused_in_use = True  # attached to a repository: 403
    path = "/ai/llm"
    list_field = "aiLlms"
    secret_fields = ("key", "secret")

    def exports_secret(self, attrs: Mapping[str, Any], field: str) -> bool:
        """Inline credentials only, and only the secret: the key is optional."""
        return field == "secret" and not attrs.get("provider_key")

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for name, body in (spec.get(self.section) or {}).items():
            provider_key = body.get("provider_key") or None
            yield Resource(
                self.name,
                self.address(name),
                backend_name(name, body),
                attrs={
                    "ai_type": str(body["ai_type"]).upper(),
                    "endpoint": body.get("endpoint") or None,
                    "provider_key": provider_key,
                },
                secrets=secrets_of(body, self.secret_fields),
                refs=provider_key_refs(provider_key),
                protect=bool(body.get("protect", False)),
            )

    def attrs_from_api(self, item: Mapping[str, Any], provider_key: str | None) -> dict[str, Any]:
        return {
            "ai_type": str(item.get("aiType") or "").upper(),
            "endpoint": item.get("endpoint") or None,
            "provider_key": provider_key,
        }

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
        body = ctx.api.post(self.path, json=payload)
        return Created(body["aiLlmId"])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        # PUT changes only the fields present: null clears an endpoint (`string | null` in the
        # contract); `apiKeyUuid` has no null and is sent only when the spec names a provider
        # key. Write-only secrets are sent only when the spec has them.
        body = {k: v for k, v in self._payload(ctx, desired).items() if k != "apiKeyUuid" or v}
        ctx.api.put(f"{self.path}/{live.id}", json=body)
