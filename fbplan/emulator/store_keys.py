"""Keys a repository owns: storage API keys and AI API keys (flashback-api.md 7 and 8).

- Storage keys: ``key`` is an S3-style access key id (``FBK`` + 17 upper-case characters),
  ``secret`` 40 characters; the secret is shown in clear only in the create response, lists
  show an opaque envelope. Names are not unique. Deletes are hard (the reference says nothing
  about soft deletion for these).
- AI keys: ``key`` is a public identifier ``sk-fb-<24>``, ``secret`` is ``sk-fb-<48>`` and is
  the **bearer token the AI gateway accepts** (open question 10: the secret, since lists show
  the key to anyone who can read the repository). Only the secret's SHA-256 is stored. Deletes
  are soft; a deleted key answers 404 to update and delete. Lists are newest first.
- Cloud keys (section 9): a link from a repository to a provider key of its workspace (400
  for a key of another workspace or a second link to the same key), with no secret; lists
  show the key's provider, the first characters of its key id, region and endpoint. Deletes
  are hard. A provider key linked to a live repository cannot be deleted (400).
- All refuse (404 ``{success: false, message}``) when the repository is missing or deleted.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import string
from typing import Any

from fbplan.emulator.problems import bad_request, not_found
from fbplan.emulator.store_base import (
    RowLike,
    envelope_of,
    new_envelope,
    new_id,
    now_iso,
    without_absent,
)
from fbplan.emulator.store_repos import RepoOps

_UPPER = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits


def _random(alphabet: str, size: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(size))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class KeyOps(RepoOps):
    """Repo storage API keys and repo AI API keys."""

    # -- storage keys -----------------------------------------------------------------------

    def create_repo_api_key(self, repo_id: str, name: str, access_type: str) -> dict[str, Any]:
        """Create a key; the returned dict ``{id, key, secret}`` is the only clear secret."""
        with self._tx():
            self.live_repo(repo_id)
            used = self._count(
                "SELECT COUNT(*) FROM repo_api_keys k JOIN repos r ON r.id = k.repo_id"
                " WHERE r.deleted_at IS NULL"
            )
            self._check_quota("repoApiKeys", used)
            key_id, key, secret = new_id(), "FBK" + _random(_UPPER, 17), _random(_ALNUM, 40)
            self._exec(
                "INSERT INTO repo_api_keys (id, repo_id, name, access_type, key, secret, envelope,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key_id, repo_id, name, access_type, key, secret, new_envelope(), now_iso()),
            )
            return {"id": key_id, "key": key, "secret": secret}

    def list_repo_api_keys(self, repo_id: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM repo_api_keys WHERE repo_id = ? ORDER BY rowid", (repo_id,))
        return [self.api_key_dto(row) for row in rows]

    @staticmethod
    def api_key_dto(row: RowLike) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "accessType": row["access_type"],
            "key": row["key"],
            "secret": envelope_of(row["envelope"]),
            "createdAt": row["created_at"],
        }

    def update_repo_api_key(
        self, repo_id: str, key_id: str, name: str | None, access_type: str | None
    ) -> None:
        with self._tx():
            self._repo_api_key_row(repo_id, key_id)
            if name is not None:
                self._exec("UPDATE repo_api_keys SET name = ? WHERE id = ?", (name, key_id))
            if access_type is not None:
                self._exec(
                    "UPDATE repo_api_keys SET access_type = ? WHERE id = ?", (access_type, key_id)
                )

    def delete_repo_api_key(self, repo_id: str, key_id: str) -> None:
        with self._tx():
            self._repo_api_key_row(repo_id, key_id)
            self._exec("DELETE FROM repo_api_keys WHERE id = ?", (key_id,))

    def _repo_api_key_row(self, repo_id: str, key_id: str) -> sqlite3.Row:
        self.live_repo(repo_id)
        row = self._one(
            "SELECT * FROM repo_api_keys WHERE id = ? AND repo_id = ?", (key_id, repo_id)
        )
        if row is None:
            raise not_found("API key")
        return row

    # -- AI keys ----------------------------------------------------------------------------

    def create_repo_ai_key(self, repo_id: str, name: str, ai_type: str) -> dict[str, Any]:
        """Create an AI key; ``{id, key, secret}`` is the only time the secret is shown."""
        with self._tx():
            self.live_repo(repo_id)
            used = self._count("SELECT COUNT(*) FROM repo_ai_keys WHERE deleted_at IS NULL")
            self._check_quota("repoAiApiKeys", used)
            key_id = new_id()
            key, secret = "sk-fb-" + _random(_ALNUM, 24), "sk-fb-" + _random(_ALNUM, 48)
            self._exec(
                "INSERT INTO repo_ai_keys (id, repo_id, name, ai_type, key, secret_sha256,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key_id, repo_id, name, ai_type, key, sha256(secret), now_iso()),
            )
            return {"id": key_id, "key": key, "secret": secret}

    def list_repo_ai_keys(self, repo_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT * FROM repo_ai_keys WHERE repo_id = ? AND deleted_at IS NULL"
            " ORDER BY created_at DESC, rowid DESC",
            (repo_id,),
        )
        return [self.ai_key_dto(row) for row in rows]

    def update_repo_ai_key(self, repo_id: str, key_id: str, name: str | None) -> None:
        """Rename a key (its ``aiType`` is fixed: a new type is a new key)."""
        with self._tx():
            self._repo_ai_key_row(repo_id, key_id)
            if name is not None:
                self._exec("UPDATE repo_ai_keys SET name = ? WHERE id = ?", (name, key_id))

    def delete_repo_ai_key(self, repo_id: str, key_id: str) -> None:
        with self._tx():
            self._repo_ai_key_row(repo_id, key_id)
            self._exec("UPDATE repo_ai_keys SET deleted_at = ? WHERE id = ?", (now_iso(), key_id))

    def _repo_ai_key_row(self, repo_id: str, key_id: str) -> sqlite3.Row:
        self.live_repo(repo_id)
        row = self._one(
            "SELECT * FROM repo_ai_keys WHERE id = ? AND repo_id = ? AND deleted_at IS NULL",
            (key_id, repo_id),
        )
        if row is None:
            raise not_found("AI API key")
        return row

    @staticmethod
    def ai_key_dto(row: RowLike) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "repoId": row["repo_id"],
            "key": row["key"],
            "aiType": row["ai_type"],
            "createdAt": row["created_at"],
            "deletedAt": row["deleted_at"],
        }

    # -- cloud keys -------------------------------------------------------------------------

    def add_repo_cloud_key(self, repo_id: str, api_key_id: str) -> str:
        with self._tx():
            repo = self.live_repo(repo_id)
            key = self._one(
                "SELECT id FROM provider_keys WHERE id = ? AND workspace_id = ?",
                (api_key_id, repo["workspace_id"]),
            )
            if key is None:
                raise bad_request(f"apiKeyId: API key {api_key_id} not found in this workspace")
            taken = self._one(
                "SELECT id FROM repo_cloud_keys WHERE repo_id = ? AND api_key_id = ?",
                (repo_id, api_key_id),
            )
            if taken is not None:
                raise bad_request("This API key is already linked to the repository")
            link_id = new_id()
            self._exec(
                "INSERT INTO repo_cloud_keys (id, repo_id, api_key_id, created_at)"
                " VALUES (?, ?, ?, ?)",
                (link_id, repo_id, api_key_id, now_iso()),
            )
            return link_id

    def list_repo_cloud_keys(self, repo_id: str) -> list[dict[str, Any]]:
        self.live_repo(repo_id)
        rows = self._all(
            "SELECT c.*, k.provider, k.key, k.region, k.endpoint FROM repo_cloud_keys c"
            " JOIN provider_keys k ON k.id = c.api_key_id WHERE c.repo_id = ? ORDER BY c.rowid",
            (repo_id,),
        )
        return [
            without_absent(
                {
                    "id": row["id"],
                    "repoId": row["repo_id"],
                    "apiKeyId": row["api_key_id"],
                    "createdAt": row["created_at"],
                    "provider": row["provider"],
                    "keyPrefix": row["key"][:4],
                    "region": row["region"],
                    "endpoint": row["endpoint"],
                },
                "region",
                "endpoint",
            )
            for row in rows
        ]

    def remove_repo_cloud_key(self, repo_id: str, link_id: str) -> None:
        with self._tx():
            self.live_repo(repo_id)
            row = self._one(
                "SELECT id FROM repo_cloud_keys WHERE id = ? AND repo_id = ?", (link_id, repo_id)
            )
            if row is None:
                raise not_found("Repository cloud API key")
            self._exec("DELETE FROM repo_cloud_keys WHERE id = ?", (link_id,))

    def live_repo(self, repo_id: str) -> sqlite3.Row:
        """The live repository or a plain 404 (for the key routes under ``/repo/{id}``)."""
        row = self._one("SELECT * FROM repos WHERE id = ? AND deleted_at IS NULL", (repo_id,))
        if row is None:
            raise not_found("Repository")
        return row
