"""Buckets: the store's rules and the `StorageBucket` shape (flashback-api.md section 5).

Rules:

- ``name`` is unique among the live buckets of the organization ([D]); ``bucket`` (the real
  bucket name at the provider) is unique among all live buckets too ([D] guide: "globally
  unique ... within Flashback"). Both case-sensitive; duplicates answer 400 with a message.
- credentials: either a provider key of the same workspace (``apiKeyUuid``) or inline
  ``key`` + ``secret`` (the union of what [C] and [D] require). The secret itself is dropped;
  lists show a fresh opaque envelope ``{key, iv, authTag, message}`` that changes whenever a
  secret is written.
- ``workspaceId`` cannot change on update (400); every other field can, partially.
- delete is soft, releases quota and the name, and is refused (403) while a live repository
  uses the bucket.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from fbplan.emulator.problems import bad_request, forbidden, not_found
from fbplan.emulator.store_base import (
    RowLike,
    envelope_of,
    new_envelope,
    new_id,
    now_iso,
    without_absent,
)
from fbplan.emulator.store_workspaces import WorkspaceOps

BUCKET_FIELDS = (
    "name",
    "bucket",
    "storage_type",
    "key",
    "region",
    "endpoint",
    "api_key_id",
    "wallet_address",
)
LIVE_BUCKETS = "SELECT COUNT(*) FROM buckets WHERE deleted_at IS NULL"


class BucketOps(WorkspaceOps):
    """Buckets."""

    def create_bucket(
        self,
        workspace_id: str,
        name: str,
        bucket: str,
        storage_type: str,
        *,
        key: str | None = None,
        secret: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        api_key_id: str | None = None,
        wallet_address: str | None = None,
    ) -> str:
        with self._tx():
            self._workspace_row(workspace_id)
            self._check_quota("buckets", self._count(LIVE_BUCKETS))
            self._check_bucket_names(name, bucket, None)
            if api_key_id:
                self._provider_key_in_workspace(api_key_id, workspace_id)
                key, secret = None, None
            elif not (key and secret):
                raise bad_request(_CREDENTIALS)
            bucket_id, now = new_id(), now_iso()
            self._exec(
                "INSERT INTO buckets (id, workspace_id, name, bucket, storage_type, key, envelope,"
                " region, endpoint, api_key_id, wallet_address, status, last_status_at,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ONLINE', ?, ?)",
                (
                    bucket_id,
                    workspace_id,
                    name,
                    bucket,
                    storage_type,
                    key,
                    new_envelope() if secret else None,
                    region,
                    endpoint,
                    api_key_id or None,
                    wallet_address,
                    now,
                    now,
                ),
            )
            return bucket_id

    def list_buckets(
        self, workspace_id: str | None = None, wallet_address: str | None = None
    ) -> list[dict[str, Any]]:
        return [self.bucket_dto(row) for row in self._bucket_rows(workspace_id, wallet_address)]

    def available_buckets(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """Live buckets not attached to any live MIRROR repository."""
        taken = {row["bucket_id"] for row in self._all(_MIRROR_ATTACHMENTS)}
        rows = self._bucket_rows(workspace_id)
        return [self.bucket_dto(row) for row in rows if row["id"] not in taken]

    def update_bucket(self, bucket_id: str, changes: dict[str, Any]) -> str:
        """Apply a full or partial update; `changes` uses BUCKET_FIELDS names plus
        ``secret`` and ``workspace_id``."""
        with self._tx():
            row = self._bucket_row(bucket_id)
            workspace = changes.get("workspace_id")
            if workspace is not None and workspace != row["workspace_id"]:
                raise bad_request("workspaceId cannot change; create the bucket in the workspace")
            current = {field: row[field] for field in BUCKET_FIELDS}
            envelope = row["envelope"]
            current.update({k: v for k, v in changes.items() if k in BUCKET_FIELDS})
            if changes.get("api_key_id"):
                self._provider_key_in_workspace(changes["api_key_id"], row["workspace_id"])
                current["key"], envelope = None, None
            elif changes.get("key") or changes.get("secret"):
                current["api_key_id"] = None
                if changes.get("secret"):
                    envelope = new_envelope()
            if not (current["api_key_id"] or (current["key"] and envelope)):
                raise bad_request(_CREDENTIALS)
            self._check_bucket_names(current["name"], current["bucket"], bucket_id)
            assignments = ", ".join(f"{field} = ?" for field in current)
            self._exec(
                f"UPDATE buckets SET {assignments}, envelope = ? WHERE id = ?",
                (*current.values(), envelope, bucket_id),
            )
            return bucket_id

    def delete_bucket(self, bucket_id: str) -> None:
        with self._tx():
            self._bucket_row(bucket_id)
            repos = self._bucket_repos(bucket_id)
            if repos:
                names = ", ".join(repo["name"] for repo in repos)
                raise forbidden(f"Bucket is used by repositories ({names}); detach it first")
            self._exec("UPDATE buckets SET deleted_at = ? WHERE id = ?", (now_iso(), bucket_id))

    # -- helpers ----------------------------------------------------------------------------

    def _bucket_rows(
        self, workspace_id: str | None, wallet_address: str | None = None
    ) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM buckets WHERE deleted_at IS NULL", []
        if workspace_id is not None:
            sql, params = sql + " AND workspace_id = ?", [workspace_id]
        if wallet_address is not None:
            sql, params = sql + " AND wallet_address = ?", [*params, wallet_address]
        return self._all(sql + " ORDER BY rowid", params)

    def _bucket_row(self, bucket_id: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM buckets WHERE id = ? AND deleted_at IS NULL", (bucket_id,))
        if row is None:
            raise not_found("Bucket")
        return row

    def _check_bucket_names(self, name: str, bucket: str, own_id: str | None) -> None:
        others = "deleted_at IS NULL AND id IS NOT ?"
        if self._one(f"SELECT id FROM buckets WHERE name = ? AND {others}", (name, own_id)):
            raise bad_request(f"Bucket name {name!r} is already used in this organization")
        if self._one(f"SELECT id FROM buckets WHERE bucket = ? AND {others}", (bucket, own_id)):
            raise bad_request(f"Bucket {bucket!r} is already registered in Flashback")

    def _bucket_repos(self, bucket_id: str) -> list[sqlite3.Row]:
        return self._all(
            "SELECT r.* FROM repo_buckets rb JOIN repos r ON r.id = rb.repo_id"
            " WHERE rb.bucket_id = ? AND r.deleted_at IS NULL ORDER BY r.rowid",
            (bucket_id,),
        )

    def bucket_dto(self, row: RowLike, repos_of: Sequence[RowLike] | None = None) -> dict[str, Any]:
        """The BucketDTO; `repos_of`: its live repos, when the caller read them already."""
        attached = self._bucket_repos(row["id"]) if repos_of is None else repos_of
        repos = [
            {
                "id": repo["id"],
                "name": repo["name"],
                "storageType": repo["storage_type"],
                "createdAt": repo["created_at"],
            }
            for repo in attached
        ]
        dto = {
            "id": row["id"],
            "name": row["name"],
            "bucket": row["bucket"],
            "storageType": row["storage_type"],
            "key": row["key"],
            "secret": envelope_of(row["envelope"]) if row["envelope"] else None,
            "endpoint": row["endpoint"],
            "region": row["region"],
            "status": row["status"],
            "lastStatusAt": row["last_status_at"],
            "createdAt": row["created_at"],
            "workspaceId": row["workspace_id"],
            "walletAddress": row["wallet_address"],
            "repos": repos,
            "apiKeyId": row["api_key_id"],
        }
        return without_absent(dto, *_BUCKET_OPTIONAL)


_BUCKET_OPTIONAL = (
    "key",
    "secret",
    "endpoint",
    "region",
    "status",
    "lastStatusAt",
    "walletAddress",
    "apiKeyId",
)
_CREDENTIALS = "Credentials required: apiKeyUuid, or key and secret"
_MIRROR_ATTACHMENTS = (
    "SELECT rb.bucket_id FROM repo_buckets rb JOIN repos r ON r.id = rb.repo_id"
    " WHERE r.deleted_at IS NULL AND r.mode = 'MIRROR'"
)
