"""Workspaces and provider (cloud/AI) API keys: the store's rules and DTO shapes.

Rules (flashback-api.md sections 3 and 4):

- workspace names are not unique (no source says they are); a workspace is soft-deleted and
  refused (400) while it still has live buckets or repositories. Deleting it also removes what
  the backend would otherwise leave unreachable: its provider keys and AI LLM configs (hard)
  and its policies (soft).
- a workspace's creator is its ADMIN member; members are users of the organization (a fixed
  team, `TEAM`, beside the caller: `GET /organization/users`), added once each (a second add
  is a 400), and a role change or removal of a non-member is a 404.
- provider keys have no name and no uniqueness; the secret is accepted and dropped (never
  returned, never needed by the emulator); deletes are hard and refused with **400** while a
  live bucket or AI LLM config uses the key (open question 18: status undocumented).
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from fbplan.emulator.problems import bad_request, not_found
from fbplan.emulator.store_base import USER_PROFILE, StoreBase, new_id, now_iso, without_absent

# The organization's users beside the caller (email, name, last name, org role): who can be
# made a workspace member. Their ids are derived from the organization's, so they are stable.
TEAM = (
    ("ana@example.com", "Ana", "Silva", 0),
    ("ben@example.com", "Ben", "Okafor", 2),
    ("chen@example.com", "Chen", "Wei", 0),
)
ORG_ROLE_NAMES = {0: "USER", 1: "BILLING", 2: "WORKSPACES", 254: "ADMINISTRATORS", 255: "OWNER"}

# `GET /providers` catalogue and the `capability` bitmask of each provider name
# (1 storage, 2 AI, 4 cloud). A provider name outside the catalogue is accepted (the API
# types it as a free string) and matches only `capability=255`.
PROVIDERS: dict[str, int] = {
    "AWS": 1 | 2 | 4,
    "GCP": 1 | 2 | 4,
    "AZURE": 1 | 2 | 4,
    "STORJ": 1,
    "WASABI": 1,
    "OPENAI": 2,
    "ANTHROPIC": 2,
    "GOOGLE": 2,
    "MISTRAL": 2,
}
CAPABILITY_ALL = 255

PROVIDER_KEY_FIELDS = (
    "key",
    "endpoint",
    "region",
    "tenant_id",
    "subscription_id",
    "provider",
    "description",
)


class WorkspaceOps(StoreBase):
    """Workspaces and provider keys."""

    # -- workspaces -------------------------------------------------------------------------

    def create_workspace(self, name: str) -> dict[str, Any]:
        with self._tx():
            self._check_quota("workspaces", self._count(_LIVE_WORKSPACES))
            workspace_id = new_id()
            self._exec(
                "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)",
                (workspace_id, name, now_iso()),
            )
            self._exec(
                "INSERT INTO workspace_users (workspace_id, user_id, role) VALUES (?, ?, 'ADMIN')",
                (workspace_id, self.user_id),
            )
            return self.workspace_dto(self._workspace_row(workspace_id), with_users=False)

    def list_workspaces(self) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM workspaces WHERE deleted_at IS NULL ORDER BY rowid")
        return [self.workspace_dto(row) for row in rows]

    def get_workspace(self, workspace_id: str) -> dict[str, Any]:
        return self.workspace_dto(self._workspace_row(workspace_id))

    def update_workspace(self, workspace_id: str, name: str | None) -> dict[str, Any]:
        with self._tx():
            self._workspace_row(workspace_id)
            if name is not None:
                self._exec("UPDATE workspaces SET name = ? WHERE id = ?", (name, workspace_id))
            return self.workspace_dto(self._workspace_row(workspace_id), with_users=False)

    def delete_workspace(self, workspace_id: str) -> None:
        with self._tx():
            self._workspace_row(workspace_id)
            live = "SELECT COUNT(*) FROM {} WHERE workspace_id = ? AND deleted_at IS NULL"
            if any(self._count(live.format(t), (workspace_id,)) for t in ("buckets", "repos")):
                raise bad_request("Workspace still has buckets or repositories; delete them first")
            now = now_iso()
            self._exec("UPDATE workspaces SET deleted_at = ? WHERE id = ?", (now, workspace_id))
            self._exec(
                "DELETE FROM repo_llms WHERE ai_llm_id IN "
                "(SELECT id FROM ai_llms WHERE workspace_id = ?)",
                (workspace_id,),
            )
            self._exec("DELETE FROM ai_llms WHERE workspace_id = ?", (workspace_id,))
            self._exec("DELETE FROM provider_keys WHERE workspace_id = ?", (workspace_id,))
            self._exec(
                "UPDATE policies SET deleted_at = ? WHERE workspace_id = ? AND deleted_at IS NULL",
                (now, workspace_id),
            )

    def _workspace_row(self, workspace_id: str | None) -> sqlite3.Row:
        """The live workspace or a 404 (also what "no access" looks like)."""
        row = self._one(
            "SELECT * FROM workspaces WHERE id = ? AND deleted_at IS NULL", (workspace_id,)
        )
        if row is None:
            raise not_found("Workspace")
        return row

    def workspace_dto(self, row: sqlite3.Row, with_users: bool = True) -> dict[str, Any]:
        dto: dict[str, Any] = {"id": row["id"], "name": row["name"], "orgId": self.org_id}
        if with_users:
            users = {user["id"]: user for user in self.org_users()}
            rows = self._all(
                "SELECT * FROM workspace_users WHERE workspace_id = ? ORDER BY rowid", (row["id"],)
            )
            dto["users"] = [
                {
                    "userId": r["user_id"],
                    "role": r["role"],
                    "user": _member_user(users[r["user_id"]]),
                }
                for r in rows
            ]
        return dto

    # -- organization users and workspace members -------------------------------------------

    def org_users(self) -> list[dict[str, Any]]:
        """``data`` of ``GET /organization/users``: the caller (OWNER) and the `TEAM`."""
        people = [
            (
                self.user_id,
                USER_PROFILE["email"],
                USER_PROFILE["name"],
                USER_PROFILE["lastName"],
                255,
            )
        ]
        people += [
            (str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.org_id}/{email}")), email, name, last, role)
            for email, name, last, role in TEAM
        ]
        return [
            {
                "id": user_id,
                "email": email,
                "name": name,
                "lastName": last_name,
                "orgId": self.org_id,
                "orgRole": role,
                "validated": True,
                "deletedAt": None,
                "orgRoleDescription": ORG_ROLE_NAMES[role],
                "orgRoles": [role],
            }
            for user_id, email, name, last_name, role in people
        ]

    def add_workspace_user(self, workspace_id: str, user_id: str, role: str) -> None:
        with self._tx():
            self._workspace_row(workspace_id)
            if user_id not in {user["id"] for user in self.org_users()}:
                raise bad_request(f"userId: user {user_id} is not in the organization")
            if self._member_row(workspace_id, user_id) is not None:
                raise bad_request("User is already a member of this workspace")
            self._exec(
                "INSERT INTO workspace_users (workspace_id, user_id, role) VALUES (?, ?, ?)",
                (workspace_id, user_id, role),
            )

    def update_workspace_user(self, workspace_id: str, user_id: str, role: str) -> None:
        with self._tx():
            self._existing_member(workspace_id, user_id)
            self._exec(
                "UPDATE workspace_users SET role = ? WHERE workspace_id = ? AND user_id = ?",
                (role, workspace_id, user_id),
            )

    def remove_workspace_user(self, workspace_id: str, user_id: str) -> None:
        with self._tx():
            self._existing_member(workspace_id, user_id)
            self._exec(
                "DELETE FROM workspace_users WHERE workspace_id = ? AND user_id = ?",
                (workspace_id, user_id),
            )

    def _member_row(self, workspace_id: str, user_id: str) -> sqlite3.Row | None:
        return self._one(
            "SELECT * FROM workspace_users WHERE workspace_id = ? AND user_id = ?",
            (workspace_id, user_id),
        )

    def _existing_member(self, workspace_id: str, user_id: str) -> sqlite3.Row:
        self._workspace_row(workspace_id)
        row = self._member_row(workspace_id, user_id)
        if row is None:
            raise not_found("Workspace member")
        return row

    # -- provider keys ----------------------------------------------------------------------

    def create_provider_key(self, workspace_id: str, provider: str, key: str, **extra: Any) -> str:
        """Create a key; `extra` may hold endpoint, region, tenant_id, subscription_id and
        description (a `secret` passed here is dropped: write-only and never used)."""
        with self._tx():
            self._workspace_row(workspace_id)
            self._check_quota("apiKeys", self._count("SELECT COUNT(*) FROM provider_keys"))
            key_id = new_id()
            self._exec(
                "INSERT INTO provider_keys (id, workspace_id, provider, key, endpoint, region,"
                " tenant_id, subscription_id, description, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    workspace_id,
                    provider,
                    key,
                    extra.get("endpoint"),
                    extra.get("region"),
                    extra.get("tenant_id"),
                    extra.get("subscription_id"),
                    extra.get("description"),
                    now_iso(),
                ),
            )
            return key_id

    def list_provider_keys(
        self,
        workspace_id: str | None = None,
        capability: int | None = None,
        provider: str | None = None,
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM provider_keys WHERE 1 = 1", []
        if workspace_id is not None:
            sql, params = sql + " AND workspace_id = ?", [workspace_id]
        if provider is not None:
            sql, params = sql + " AND provider = ?", [*params, provider]
        rows = self._all(sql + " ORDER BY rowid", params)
        if capability and capability != CAPABILITY_ALL:
            rows = [r for r in rows if PROVIDERS.get(r["provider"].upper(), 0) & capability]
        return [self.provider_key_dto(row) for row in rows]

    def update_provider_key(self, key_id: str, changes: dict[str, Any]) -> None:
        """Change the fields present in `changes` (names from PROVIDER_KEY_FIELDS)."""
        with self._tx():
            self._provider_key_row(key_id)  # workspaceId is not updatable: a key cannot move
            for field, value in changes.items():
                if field in PROVIDER_KEY_FIELDS:
                    self._exec(
                        f"UPDATE provider_keys SET {field} = ? WHERE id = ?", (value, key_id)
                    )

    def delete_provider_key(self, key_id: str) -> None:
        with self._tx():
            self._provider_key_row(key_id)
            buckets, llms = self._provider_key_usage(key_id)
            if buckets or llms:
                raise bad_request(
                    f"API key is in use by {buckets} bucket(s) and {llms} AI LLM "
                    "configuration(s); detach it first"
                )
            links = self._count(
                "SELECT COUNT(*) FROM repo_cloud_keys c JOIN repos r ON r.id = c.repo_id"
                " WHERE c.api_key_id = ? AND r.deleted_at IS NULL",
                (key_id,),
            )
            if links:
                raise bad_request(
                    f"API key is linked to {links} repository(ies) as a cloud key; unlink it first"
                )
            self._exec("DELETE FROM provider_keys WHERE id = ?", (key_id,))

    def _provider_key_row(self, key_id: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM provider_keys WHERE id = ?", (key_id,))
        if row is None:
            raise not_found("API key")
        return row

    def _provider_key_in_workspace(self, key_id: str, workspace_id: str) -> sqlite3.Row:
        """The provider key a bucket or AI LLM refers to (`apiKeyUuid`), or a 400."""
        row = self._one(
            "SELECT * FROM provider_keys WHERE id = ? AND workspace_id = ?", (key_id, workspace_id)
        )
        if row is None:
            raise bad_request(f"apiKeyUuid: API key {key_id} not found in this workspace")
        return row

    def _provider_key_usage(self, key_id: str) -> tuple[int, int]:
        buckets = self._count(
            "SELECT COUNT(*) FROM buckets WHERE api_key_id = ? AND deleted_at IS NULL", (key_id,)
        )
        llms = self._count("SELECT COUNT(*) FROM ai_llms WHERE api_key_id = ?", (key_id,))
        return buckets, llms

    def provider_key_dto(self, row: sqlite3.Row) -> dict[str, Any]:
        buckets, llms = self._provider_key_usage(row["id"])
        dto = {
            "id": row["id"],
            "key": row["key"],
            "endpoint": row["endpoint"],
            "region": row["region"],
            "tenantId": row["tenant_id"],
            "subscriptionId": row["subscription_id"],
            "provider": row["provider"],
            "description": row["description"],
            "createdAt": row["created_at"],
            "bucket_count": buckets,
            "aillm_count": llms,
        }
        optional = ("endpoint", "region", "tenantId", "subscriptionId", "description")
        return without_absent(dto, *optional)

    @staticmethod
    def providers_catalogue() -> list[dict[str, Any]]:
        """``GET /providers``: the provider names the emulator knows, with capabilities."""
        return [
            {"id": name.lower(), "name": name, "capabilities": caps, "groupingTypes": []}
            for name, caps in PROVIDERS.items()
        ]


_LIVE_WORKSPACES = "SELECT COUNT(*) FROM workspaces WHERE deleted_at IS NULL"


def _member_user(user: dict[str, Any]) -> dict[str, Any]:
    """The `user` of a WorkspaceUser: the org user's summary."""
    return {k: user[k] for k in ("id", "name", "lastName", "email", "orgRole")}
