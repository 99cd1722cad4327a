"""`fbplan export`: the spec of what exists in a workspace, to start managing it.

Write-only secrets cannot be read back: the exported spec refers to environment variables
named after the resource (e.g. `${env:FB_BUCKET_MEDIA_SECRET}`) for the user to provide.
Objects the spec format cannot name (a provider key without a description) are left out
and listed in a comment.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from fbplan.kinds import REGISTRY
from fbplan.model import Resource, State


def _env_name(resource: Resource, field: str) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "_", f"FB_{resource.address}_{field}")
    return base.upper()


def _needs_secret(resource: Resource, field: str) -> bool:
    attrs = resource.attrs
    match resource.kind:
        case "provider_key":
            return True
        case "bucket":
            return bool(attrs.get("key")) and not attrs.get("provider_key")
        case "ai_llm":
            return field == "secret" and not attrs.get("provider_key")
    return False


def _body(resource: Resource) -> dict[str, Any]:
    body = {k: v for k, v in resource.attrs.items() if v not in (None, "", [])}
    for field in REGISTRY[resource.kind].secret_fields:
        if _needs_secret(resource, field):
            body[field] = "${env:" + _env_name(resource, field) + "}"
    return body


def export_spec(live: State) -> str:
    spec: dict[str, Any] = {"version": 1, "workspace": live.workspace}
    skipped: list[str] = []
    for resource in live:
        kind = REGISTRY[resource.kind]
        if resource.kind == "workspace":
            continue
        if resource.name.startswith("id:") or "id:" in str(resource.attrs):
            skipped.append(f"{resource.address} (id {resource.id})")
            continue
        if kind.parent_kind:
            repo = spec["repos"][resource.parent.removeprefix("repo.")]  # type: ignore[union-attr]
            repo.setdefault(kind.section, {})[resource.name] = _body(resource)
        else:
            spec.setdefault(kind.section, {})[resource.name] = _body(resource)
    header = "# yaml-language-server: $schema=https://fbplan.dev/schemas/fbplan.schema.json\n"
    header += f"# Exported from workspace {live.workspace} by fbplan export.\n"
    if skipped:
        header += "# Left out (no name the spec can use): " + ", ".join(skipped) + "\n"
    return header + yaml.safe_dump(spec, sort_keys=False, default_flow_style=False, width=100)
