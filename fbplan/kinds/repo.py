"""Repositories, `/repo` (`repo.NAME`), with their bucket and AI LLM attachments.

Attachments are compared as a list sorted by bucket name, so order in the spec or in the
API answer never shows as a change. `mode` updates in place (PUT is a full replacement);
`storage_type` forces a replace (the protocol clients speak; open question 7, safe
reading), and so does a new folder for a bucket that stays attached, which the backend
refuses in place (`NORMAL_UNIT_CANNOT_EDIT_FOLDER`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.kinds.base import (
    ApplyContext,
    Created,
    LiveContext,
    OrgUnique,
    Reference,
    WorkspaceListKind,
    backend_name,
)
from fbplan.kinds.common import bucket_id_of, repo_mode, storage_type
from fbplan.model import WORKSPACE_ADDRESS, Resource


def _attachments(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = [
        {"bucket": i["bucket"], "folder": i.get("folder") or "", "master": bool(i.get("master"))}
        for i in items
    ]
    return sorted(rows, key=lambda row: (row["bucket"], row["folder"]))


def _refs(attrs: Mapping[str, Any]) -> tuple[str, ...]:
    buckets = [
        f"bucket.{a['bucket']}" for a in attrs["buckets"] if not a["bucket"].startswith("id:")
    ]
    llms = [f"ai_llm.{n}" for n in attrs["ai_llms"] if ":" not in n]
    return (WORKSPACE_ADDRESS, *buckets, *llms)


class RepoKind(WorkspaceListKind):
    name = "repo"
    segment = "repo"
    section = "repos"
    label = "repository"
    renames_in_place = True  # its update takes the name
    quota_capability = "REPOS_COUNT"
    path = "/repo"
    list_field = "repos"
    replace_on = frozenset({"storage_type"})
    references = (
        Reference("bucket", ("buckets", "[]", "bucket")),
        Reference("ai_llm", ("ai_llms", "[]")),
    )
    # Repository names: the API reference leaves their scope open; the safe reading.
    org_unique = (
        OrgUnique(
            "name",
            "name",
            "the repository name {value!r} is already used in another workspace of the "
            "organization; rename it in the spec",
        ),
    )
    data_plane = True

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for name, body in (spec.get(self.section) or {}).items():
            attrs = {
                "storage_type": storage_type(body["storage_type"]),
                "mode": repo_mode(body["mode"]),
                "buckets": _attachments(body.get("buckets") or []),
                "ai_llms": sorted(body.get("ai_llms") or []),
            }
            yield Resource(
                self.name,
                self.address(name),
                backend_name(name, body),
                attrs=attrs,
                refs=_refs(attrs),
                protect=bool(body.get("protect", False)),
            )

    def from_api(self, ctx: LiveContext, item: Mapping[str, Any]) -> Resource:
        attachments = item.get("buckets") or item.get("units") or []
        llms = item.get("aiLlms") or []
        attrs = {
            "storage_type": storage_type(item.get("storageType")),
            "mode": repo_mode(item.get("mode")),
            "buckets": _attachments(
                {**a, "bucket": ctx.name_of("bucket", bucket_id_of(a))} for a in attachments
            ),
            "ai_llms": sorted(
                ctx.name_of("ai_llm", a.get("aiLlmId") or (a.get("aiLlm") or {}).get("id")) or ""
                for a in llms
            ),
        }
        return Resource(
            self.name,
            self.address(ctx.key_of(self.name, item["name"])),
            item["name"],
            attrs=attrs,
            refs=_refs(attrs),
            id=item["id"],
        )

    def replace_reasons(
        self, before: Mapping[str, Any], after: Mapping[str, Any], changed: Iterable[str]
    ) -> list[str]:
        reasons = super().replace_reasons(before, after, changed)
        old_folders = {a["bucket"]: a["folder"] for a in before.get("buckets", [])}
        for attachment in after.get("buckets", []):
            old = old_folders.get(attachment["bucket"])
            if old is not None and old != attachment["folder"]:
                reasons.append(
                    f"the folder of attached bucket {attachment['bucket']} cannot change in place"
                )
        return reasons

    def _payload(self, ctx: ApplyContext, desired: Resource) -> dict[str, Any]:
        attrs = desired.attrs
        return {
            "name": desired.name,
            "storageType": attrs["storage_type"],
            "mode": attrs["mode"],
            "workspaceId": ctx.id_of(WORKSPACE_ADDRESS),
            "repoBuckets": [
                {
                    "bucketId": ctx.id_of(f"bucket.{a['bucket']}"),
                    "folder": a["folder"],
                    "master": a["master"],
                }
                for a in attrs["buckets"]
            ],
            "repoAiLlms": [{"aiLlmId": ctx.id_of(f"ai_llm.{n}")} for n in attrs["ai_llms"]],
        }

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        body = ctx.api.post(self.path, json=self._payload(ctx, desired))
        return Created(body["repoId"])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        ctx.api.put(f"{self.path}/{live.id}", json=self._payload(ctx, desired))
