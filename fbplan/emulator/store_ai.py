"""AI LLM configurations and AI policies (flashback-api.md sections 10 and 11).

AI LLM configs:

- names are unique within the workspace (case-sensitive; duplicate: 400 with a message);
- credentials (the contract's rule, checked before the store): ``endpoint`` and ``secret``,
  or a provider key (``apiKeyUuid``), which must belong to the workspace; ``key`` and
  ``secret`` are write-only and not even stored (``key`` is always null in answers);
  ``endpoint``, when given, must be an http(s) URL;
- ``POST /ai/llm/{id}/validate`` never calls out: an endpoint that is absent (the provider's
  default), ``https://…``, or ``http://`` on 127.0.0.1 / localhost / ::1 succeeds; anything
  else is ``{success: false}`` (still HTTP 200). A success marks the config validated, which is
  what ``/ai/llm/available`` lists; changing endpoint or credentials clears it;
- delete is hard and refused (403) while a live repository has the config attached.

Policies: scope by ids exactly as section 11 (org: neither id; workspace: ``workspaceId``;
repo: ``workspaceId`` + ``repoId``, the repo must belong to that workspace; ``repoId`` without
``workspaceId``, or naming no live repository, is a 400; an unknown ``workspaceId`` is a 404).
``GET /policy`` returns only the policies *of* the requested level, never inherited ones
(open question 9). Scope cannot change on update; delete is soft.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from fbplan.emulator.problems import bad_request, forbidden, not_found
from fbplan.emulator.store_base import RowLike, new_id, now_iso, without_absent
from fbplan.emulator.store_keys import KeyOps

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
LLM_FIELDS = ("name", "ai_type", "endpoint", "api_key_id")


class AiOps(KeyOps):
    """AI LLM configurations and policies."""

    # -- AI LLM configs ---------------------------------------------------------------------

    def create_llm(
        self,
        workspace_id: str,
        name: str,
        ai_type: str,
        *,
        endpoint: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        api_key_id: str | None = None,
    ) -> str:
        with self._tx():
            self._workspace_row(workspace_id)
            self._check_quota("aiLlms", self._count("SELECT COUNT(*) FROM ai_llms"))
            self._check_llm_name(workspace_id, name, None)
            _check_endpoint(endpoint)
            if api_key_id:
                self._provider_key_in_workspace(api_key_id, workspace_id)
            elif not secret:
                raise bad_request("Credentials required: secret, or apiKeyUuid")
            llm_id = new_id()
            self._exec(
                "INSERT INTO ai_llms (id, workspace_id, name, ai_type, endpoint, has_key,"
                " has_secret, api_key_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    llm_id,
                    workspace_id,
                    name,
                    ai_type,
                    endpoint,
                    int(bool(key)),
                    int(bool(secret)),
                    api_key_id or None,
                    now_iso(),
                ),
            )
            return llm_id

    def list_llms(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM ai_llms", []
        if workspace_id is not None:
            sql, params = sql + " WHERE workspace_id = ?", [workspace_id]
        return [self.llm_dto(row) for row in self._all(sql + " ORDER BY rowid", params)]

    def available_llms(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """Validated configs, newest first."""
        sql, params = "SELECT * FROM ai_llms WHERE validated_at IS NOT NULL", []
        if workspace_id is not None:
            sql, params = sql + " AND workspace_id = ?", [workspace_id]
        rows = self._all(sql + " ORDER BY created_at DESC, rowid DESC", params)
        return [self.llm_dto(row) for row in rows]

    def update_llm(self, llm_id: str, changes: dict[str, Any]) -> str:
        """Apply the fields present in `changes` (LLM_FIELDS names plus ``key``, ``secret``)."""
        with self._tx():
            row = self._llm_row(llm_id)
            if "name" in changes:
                self._check_llm_name(row["workspace_id"], changes["name"], llm_id)
            if "endpoint" in changes:
                _check_endpoint(changes["endpoint"])
            if changes.get("api_key_id"):
                self._provider_key_in_workspace(changes["api_key_id"], row["workspace_id"])
            for field in LLM_FIELDS:
                if field in changes:
                    self._exec(
                        f"UPDATE ai_llms SET {field} = ? WHERE id = ?", (changes[field], llm_id)
                    )
            for field in ("key", "secret"):
                if field in changes:
                    self._exec(
                        f"UPDATE ai_llms SET has_{field} = ? WHERE id = ?",
                        (int(bool(changes[field])), llm_id),
                    )
            if {"endpoint", "key", "secret", "api_key_id"} & set(changes):
                self._exec("UPDATE ai_llms SET validated_at = NULL WHERE id = ?", (llm_id,))
            return llm_id

    def delete_llm(self, llm_id: str) -> None:
        with self._tx():
            self._llm_row(llm_id)
            repos = self._llm_repos(llm_id)
            if repos:
                names = ", ".join(repo["name"] for repo in repos)
                raise forbidden(f"AI LLM configuration is used by repositories ({names})")
            self._exec("DELETE FROM repo_llms WHERE ai_llm_id = ?", (llm_id,))
            self._exec("DELETE FROM ai_llms WHERE id = ?", (llm_id,))

    def validate_llm(self, llm_id: str) -> dict[str, Any]:
        """Pretend to call the provider (never a network call); see the module docstring."""
        with self._tx():
            row = self._llm_row(llm_id)
            endpoint = row["endpoint"]
            if endpoint is None and row["api_key_id"]:
                key = self._one(
                    "SELECT endpoint FROM provider_keys WHERE id = ?", (row["api_key_id"],)
                )
                endpoint = key["endpoint"] if key else None
            if not _reachable(endpoint):
                return {
                    "success": False,
                    "message": f"Provider call failed: cannot reach {endpoint}",
                }
            self._exec("UPDATE ai_llms SET validated_at = ? WHERE id = ?", (now_iso(), llm_id))
            return {"success": True, "message": "AI LLM configuration is valid"}

    def repo_llms(self, repo_id: str) -> list[dict[str, Any]]:
        """AI LLM configs attached to a live repository (for the gateway)."""
        if (
            self._one("SELECT id FROM repos WHERE id = ? AND deleted_at IS NULL", (repo_id,))
            is None
        ):
            return []
        return self._repo_llm_dtos(repo_id)

    def _llm_row(self, llm_id: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM ai_llms WHERE id = ?", (llm_id,))
        if row is None:
            raise not_found("AI LLM configuration")
        return row

    def _check_llm_name(self, workspace_id: str, name: str, own_id: str | None) -> None:
        taken = self._one(
            "SELECT id FROM ai_llms WHERE workspace_id = ? AND name = ? AND id IS NOT ?",
            (workspace_id, name, own_id),
        )
        if taken:
            raise bad_request(f"AI LLM name {name!r} is already used in this workspace")

    def _llm_repos(self, llm_id: str) -> list[sqlite3.Row]:
        return self._all(
            "SELECT r.* FROM repo_llms rl JOIN repos r ON r.id = rl.repo_id"
            " WHERE rl.ai_llm_id = ? AND r.deleted_at IS NULL ORDER BY r.rowid",
            (llm_id,),
        )

    def llm_dto(self, row: RowLike, repos_of: Sequence[RowLike] | None = None) -> dict[str, Any]:
        """The AI LLM DTO; `repos_of`: its live repos, when the caller read them already."""
        attached = self._llm_repos(row["id"]) if repos_of is None else repos_of
        repos = [{"id": r["id"], "name": r["name"], "createdAt": r["created_at"]} for r in attached]
        dto = {
            "id": row["id"],
            "orgId": self.org_id,
            "workspaceId": row["workspace_id"],
            "userId": self.user_id,
            "name": row["name"],
            "aiType": row["ai_type"],
            # The client types `endpoint` as a string: a configuration that uses a provider
            # key's credentials and names no endpoint answers an empty one.
            "endpoint": row["endpoint"] or "",
            "key": None,
            "apiKeyId": row["api_key_id"],
            "createdAt": row["created_at"],
            "repos": repos,
        }
        return without_absent(dto, "apiKeyId")

    # -- policies ---------------------------------------------------------------------------

    def create_policy(
        self,
        org_id: str,
        name: str,
        content: str,
        risk_type: str,
        action_type: int,
        workspace_id: str | None = None,
        repo_id: str | None = None,
    ) -> dict[str, Any]:
        with self._tx():
            self._check_scope(org_id, workspace_id, repo_id)
            self._check_quota(
                "policies", self._count("SELECT COUNT(*) FROM policies WHERE deleted_at IS NULL")
            )
            policy_id, now = new_id(), now_iso()
            self._exec(
                "INSERT INTO policies (id, name, content, risk_type, action_type, workspace_id,"
                " repo_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (policy_id, name, content, risk_type, action_type, workspace_id, repo_id, now, now),
            )
            return self.get_policy(policy_id)

    def list_policies(
        self, org_id: str, workspace_id: str | None = None, repo_id: str | None = None
    ) -> list[dict[str, Any]]:
        if org_id != self.org_id:
            raise forbidden("No access to this organization")
        sql = "SELECT * FROM policies WHERE deleted_at IS NULL"
        if repo_id is not None:
            sql, params = sql + " AND repo_id = ?", [repo_id]
            if workspace_id is not None:
                sql, params = sql + " AND workspace_id = ?", [repo_id, workspace_id]
        elif workspace_id is not None:
            sql, params = sql + " AND workspace_id = ? AND repo_id IS NULL", [workspace_id]
        else:
            sql, params = sql + " AND workspace_id IS NULL AND repo_id IS NULL", []
        return [self.policy_dto(row) for row in self._all(sql + " ORDER BY rowid", params)]

    def get_policy(self, policy_id: str) -> dict[str, Any]:
        return self.policy_dto(self._policy_row(policy_id))

    def update_policy(self, policy_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change any of name, content, risk_type, action_type (the scope is fixed: the
        contract's update body cannot name it)."""
        with self._tx():
            self._policy_row(policy_id)
            for field in ("name", "content", "risk_type", "action_type"):
                if field in changes:
                    self._exec(
                        f"UPDATE policies SET {field} = ? WHERE id = ?", (changes[field], policy_id)
                    )
            self._exec("UPDATE policies SET updated_at = ? WHERE id = ?", (now_iso(), policy_id))
            return self.get_policy(policy_id)

    def delete_policy(self, policy_id: str) -> None:
        with self._tx():
            self._policy_row(policy_id)
            self._exec("UPDATE policies SET deleted_at = ? WHERE id = ?", (now_iso(), policy_id))

    def policies_for_repo(self, repo_id: str) -> list[dict[str, Any]]:
        """Every live policy that applies to a live repository: org, workspace and repo level."""
        repo = self._one("SELECT * FROM repos WHERE id = ? AND deleted_at IS NULL", (repo_id,))
        if repo is None:
            return []
        rows = self._all(
            "SELECT * FROM policies WHERE deleted_at IS NULL AND ("
            " (workspace_id IS NULL AND repo_id IS NULL)"
            " OR (workspace_id = ? AND repo_id IS NULL) OR repo_id = ?)"
            " ORDER BY (workspace_id IS NOT NULL) + (repo_id IS NOT NULL), rowid",
            (repo["workspace_id"], repo_id),
        )
        return [self.policy_dto(row) for row in rows]

    def _check_scope(self, org_id: str, workspace_id: str | None, repo_id: str | None) -> None:
        if org_id != self.org_id:
            raise forbidden("No access to this organization")
        if repo_id is not None and workspace_id is None:
            raise bad_request("repoId requires workspaceId (a repo-level policy names both)")
        if workspace_id is not None:
            self._workspace_row(workspace_id)
        if repo_id is not None:
            repo = self._one("SELECT * FROM repos WHERE id = ? AND deleted_at IS NULL", (repo_id,))
            if repo is None:
                raise bad_request(f"repoId: repository {repo_id} not found")
            if repo["workspace_id"] != workspace_id:
                raise bad_request("repoId: the repository does not belong to workspaceId")

    def _policy_row(self, policy_id: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM policies WHERE id = ? AND deleted_at IS NULL", (policy_id,))
        if row is None:
            raise not_found("Policy")
        return row

    def policy_dto(self, row: sqlite3.Row) -> dict[str, Any]:
        workspace = repo = None
        if row["workspace_id"]:
            ws = self._one("SELECT id, name FROM workspaces WHERE id = ?", (row["workspace_id"],))
            workspace = {"id": ws["id"], "name": ws["name"]} if ws else None
        if row["repo_id"]:
            rp = self._one("SELECT id, name FROM repos WHERE id = ?", (row["repo_id"],))
            repo = {"id": rp["id"], "name": rp["name"]} if rp else None
        user = self.user_summary()
        return {
            "id": row["id"],
            "orgId": self.org_id,
            "name": row["name"],
            "content": row["content"],
            "riskType": row["risk_type"],
            "actionType": row["action_type"],
            "createdBy": user,
            "createdAt": row["created_at"],
            "lastUpdatedBy": user,
            "lastUpdatedAt": row["updated_at"],
            "workspaceId": row["workspace_id"],
            "repoId": row["repo_id"],
            "workspace": workspace,
            "repo": repo,
        }


def _check_endpoint(endpoint: str | None) -> None:
    if endpoint is None:
        return
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request(f"endpoint: {endpoint!r} is not an http(s) URL")


def _reachable(endpoint: str | None) -> bool:
    if endpoint is None:
        return True
    parts = urlsplit(endpoint)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)
