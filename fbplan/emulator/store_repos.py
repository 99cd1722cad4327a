"""Repositories and their bucket / AI LLM attachments (flashback-api.md section 6).

Repository refusals use the repository error shape
``{success: false, error_code, error_message}`` with these HTTP statuses (open question 2):
``NOT_FOUND`` 404, ``QUOTA_EXCEEDED`` 403, every other code 400. Plain input errors (missing
field, unknown enum, a bucket listed twice, workspace change) use ``{success: false, message}``
with 400.

Rules, in the order they are checked:

- names are unique among the live repositories of the **organization** (open question 1: the
  scope is undocumented; the stricter reading, like buckets), case-sensitive:
  ``NAME_ALREADY_USED``;
- attached buckets and AI LLM configs must be live and in the repository's workspace:
  ``NOT_FOUND``;
- MIRROR: exactly one ``master`` (``MIRROR_MASTER_UNIT_MISSING`` when none,
  ``MIRROR_MASTER_UNIT_COUNT_INVALID`` when several) and buckets exclusive to the repository
  (``MIRROR_UNIT_ALREADY_IN_OTHER_REPO``); a NORMAL repository cannot take a bucket that a
  MIRROR repository holds either (same code, as ``/bucket/available`` implies);
- NORMAL: folders distinct within the repository, and a (bucket, folder) pair not used by
  another live repository (``NORMAL_UNIT_FOLDER_ALREADY_USED``); on update, an attachment
  kept with another folder is ``NORMAL_UNIT_CANNOT_EDIT_FOLDER``.
- ``NORMAL_UNIT_FOLDER_CANNOT_DELETE`` is **not** enforced: an update may detach buckets.

``PUT /repo/{id}`` is a full replacement of name, storageType, mode and the bucket
attachments (the contract requires ``repoBuckets`` on update, as the docs do); a **missing**
``repoAiLlms`` keeps the attached AI LLM configs and an **empty** list detaches all (open
question 6, the safe reading). ``workspaceId`` (required too) cannot change.
Deleting a repository is soft; its repo-level policies and AI keys are soft-deleted with it and
its buckets and LLMs become free.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fbplan.emulator.problems import ApiProblem, bad_request, repo_problem
from fbplan.emulator.store_base import Record, RowLike, new_id, now_iso, without_absent
from fbplan.emulator.store_buckets import BucketOps


@dataclass(frozen=True)
class Attachment:
    """One ``repoBuckets`` item: a bucket mapped into a repository."""

    bucket_id: str
    folder: str = ""
    master: bool = False


LIVE_REPOS = "SELECT COUNT(*) FROM repos WHERE deleted_at IS NULL"


class RepoOps(BucketOps):
    """Repositories and their attachments."""

    def create_repo(
        self,
        workspace_id: str,
        name: str,
        storage_type: str,
        mode: str,
        buckets: Sequence[Attachment] = (),
        llm_ids: Sequence[str] = (),
        wallet_address: str | None = None,
    ) -> str:
        with self._tx():
            if not self._one(_LIVE_WORKSPACE, (workspace_id,)):
                raise repo_problem("NOT_FOUND", "Workspace not found", 404)
            self._check_quota("repos", self._count(LIVE_REPOS))
            self._check_repo_name(name, None)
            self._check_attachments(None, workspace_id, mode, buckets)
            self._check_llms(workspace_id, llm_ids)
            repo_id = new_id()
            self._exec(
                "INSERT INTO repos (id, workspace_id, name, storage_type, mode, wallet_address,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (repo_id, workspace_id, name, storage_type, mode, wallet_address, now_iso()),
            )
            self._write_attachments(repo_id, buckets, llm_ids)
            return repo_id

    def update_repo(
        self,
        repo_id: str,
        workspace_id: str,
        name: str,
        storage_type: str,
        mode: str,
        buckets: Sequence[Attachment],
        llm_ids: Sequence[str] | None = None,
    ) -> str:
        """Replace the repository; None for `llm_ids` keeps the attached AI LLM configs."""
        with self._tx():
            row = self._repo_row(repo_id)
            if workspace_id != row["workspace_id"]:
                raise bad_request("workspaceId cannot change")
            self._check_repo_name(name, repo_id)
            if llm_ids is None:
                llm_ids = [llm["id"] for llm in self.repo_llms(repo_id)]
            self._check_attachments(repo_id, row["workspace_id"], mode, buckets)
            self._check_llms(row["workspace_id"], llm_ids)
            self._exec(
                "UPDATE repos SET name = ?, storage_type = ?, mode = ? WHERE id = ?",
                (name, storage_type, mode, repo_id),
            )
            self._write_attachments(repo_id, buckets, llm_ids)
            return repo_id

    def delete_repo(self, repo_id: str) -> None:
        with self._tx():
            self._repo_row(repo_id)
            now = now_iso()
            self._exec("UPDATE repos SET deleted_at = ? WHERE id = ?", (now, repo_id))
            for table in ("policies", "repo_ai_keys"):
                self._exec(
                    f"UPDATE {table} SET deleted_at = ? WHERE repo_id = ? AND deleted_at IS NULL",
                    (now, repo_id),
                )

    def list_repos(
        self,
        workspace_id: str | None = None,
        repo_ids: Sequence[str] | None = None,
        wallet_address: str | None = None,
    ) -> list[dict[str, Any]]:
        where, params = "deleted_at IS NULL", []
        if workspace_id is not None:
            where, params = where + " AND workspace_id = ?", [workspace_id]
        if wallet_address is not None:
            where, params = where + " AND wallet_address = ?", [*params, wallet_address]
        rows = self._records(f"SELECT * FROM repos WHERE {where} ORDER BY rowid", params)
        if repo_ids is not None:
            rows = [row for row in rows if row["id"] in set(repo_ids)]
        related = self._related(f"SELECT id FROM repos WHERE {where}", params)
        return [self.repo_dto(row, related) for row in rows]

    def _related(self, scope: str, params: list[Any]) -> _Related:
        """What the DTOs of the repos `scope` selects carry, in a fixed number of queries (not
        a few per repo): listing a thousand repos stays one quick request."""
        attached = f"SELECT bucket_id FROM repo_buckets WHERE repo_id IN ({scope})"
        llms = f"SELECT ai_llm_id FROM repo_llms WHERE repo_id IN ({scope})"
        # Only the columns the DTOs show: a list reads thousands of rows.
        queries = {
            "attachments": "SELECT repo_id, bucket_id, folder, master FROM repo_buckets"
            f" WHERE repo_id IN ({scope}) ORDER BY position",
            "buckets": f"SELECT * FROM buckets WHERE id IN ({attached})",
            "bucket_repos": "SELECT rb.bucket_id AS owner, r.id, r.name, r.storage_type,"
            " r.created_at FROM repo_buckets rb JOIN repos r ON r.id = rb.repo_id"
            f" WHERE r.deleted_at IS NULL AND rb.bucket_id IN ({attached}) ORDER BY r.rowid",
            "llms": "SELECT rl.repo_id AS owner, l.* FROM repo_llms rl"
            f" JOIN ai_llms l ON l.id = rl.ai_llm_id WHERE rl.repo_id IN ({scope})"
            " ORDER BY rl.position",
            "llm_repos": "SELECT rl.ai_llm_id AS owner, r.id, r.name, r.created_at"
            " FROM repo_llms rl JOIN repos r ON r.id = rl.repo_id"
            f" WHERE r.deleted_at IS NULL AND rl.ai_llm_id IN ({llms}) ORDER BY r.rowid",
            "api_keys": "SELECT id, repo_id, name, access_type, key, envelope, created_at"
            f" FROM repo_api_keys WHERE repo_id IN ({scope}) ORDER BY rowid",
            "ai_keys": "SELECT * FROM repo_ai_keys WHERE deleted_at IS NULL"
            f" AND repo_id IN ({scope}) ORDER BY created_at DESC, rowid DESC",
        }
        rows = {name: self._records(sql, params) for name, sql in queries.items()}
        return _Related(
            attachments=_grouped(rows["attachments"], "repo_id"),
            buckets={row["id"]: row for row in rows["buckets"]},
            bucket_repos=_grouped(rows["bucket_repos"], "owner"),
            llms=_grouped(rows["llms"], "owner"),
            llm_repos=_grouped(rows["llm_repos"], "owner"),
            api_keys=_grouped(rows["api_keys"], "repo_id"),
            ai_keys=_grouped(rows["ai_keys"], "repo_id"),
        )

    def validate_repo(
        self, repo_id: str | None, mode: str, buckets: Sequence[Attachment]
    ) -> dict[str, Any]:
        """Dry-run the attachment rules: ``{success: true}`` or the refusal's body (a missing
        `repo_id` is still a 404)."""
        workspace_id = self._repo_row(repo_id)["workspace_id"] if repo_id is not None else None
        try:
            self._check_attachments(repo_id, workspace_id, mode, buckets)
        except ApiProblem as problem:
            return problem.body
        return {"success": True}

    def repo_bucket_ids(self, repo_id: str) -> list[str]:
        """Ids of the buckets attached to a repository, master first."""
        return [a.bucket_id for a in sorted(self._attachments(repo_id), key=lambda a: not a.master)]

    # -- rules ------------------------------------------------------------------------------

    def _repo_row(self, repo_id: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM repos WHERE id = ? AND deleted_at IS NULL", (repo_id,))
        if row is None:
            raise repo_problem("NOT_FOUND", "Repository not found", 404)
        return row

    def _check_repo_name(self, name: str, own_id: str | None) -> None:
        taken = self._one(
            "SELECT id FROM repos WHERE name = ? AND deleted_at IS NULL AND id IS NOT ?",
            (name, own_id),
        )
        if taken:
            raise repo_problem("NAME_ALREADY_USED", f"Repository name {name!r} is already used")

    def _check_attachments(
        self,
        repo_id: str | None,
        workspace_id: str | None,
        mode: str,
        buckets: Sequence[Attachment],
    ) -> None:
        ids = [a.bucket_id for a in buckets]
        for bucket_id in ids:
            if ids.count(bucket_id) > 1:
                raise bad_request(f"repoBuckets: bucket {bucket_id} is listed twice")
            row = self._one(
                "SELECT workspace_id FROM buckets WHERE id = ? AND deleted_at IS NULL", (bucket_id,)
            )
            if row is None or (workspace_id and row["workspace_id"] != workspace_id):
                raise repo_problem("NOT_FOUND", f"Bucket {bucket_id} not found", 404)
        others = self._other_attachments(repo_id)
        if mode == "MIRROR":
            masters = sum(1 for a in buckets if a.master)
            if masters == 0:
                raise repo_problem(
                    "MIRROR_MASTER_UNIT_MISSING", "A MIRROR repository needs a master bucket"
                )
            if masters > 1:
                raise repo_problem(
                    "MIRROR_MASTER_UNIT_COUNT_INVALID",
                    f"A MIRROR repository needs exactly one master bucket, got {masters}",
                )
            for a in buckets:
                if any(o["bucket_id"] == a.bucket_id for o in others):
                    raise _in_other_repo(a.bucket_id)
            return
        self._check_normal(repo_id, buckets, others)

    def _check_normal(
        self, repo_id: str | None, buckets: Sequence[Attachment], others: list[sqlite3.Row]
    ) -> None:
        folders = [a.folder for a in buckets]
        current = {a.bucket_id: a.folder for a in self._attachments(repo_id)} if repo_id else {}
        for a in buckets:
            if any(o["bucket_id"] == a.bucket_id and o["mode"] == "MIRROR" for o in others):
                raise _in_other_repo(a.bucket_id)
            if folders.count(a.folder) > 1 or any(
                o["bucket_id"] == a.bucket_id and o["folder"] == a.folder for o in others
            ):
                raise repo_problem(
                    "NORMAL_UNIT_FOLDER_ALREADY_USED",
                    f"Folder {a.folder!r} of bucket {a.bucket_id} is already used",
                )
            if a.bucket_id in current and current[a.bucket_id] != a.folder:
                raise repo_problem(
                    "NORMAL_UNIT_CANNOT_EDIT_FOLDER",
                    f"The folder of bucket {a.bucket_id} cannot change "
                    f"({current[a.bucket_id]!r} -> {a.folder!r}); detach and attach again",
                )

    def _other_attachments(self, repo_id: str | None) -> list[sqlite3.Row]:
        """Attachments of every other live repository, with that repository's mode."""
        return self._all(
            "SELECT rb.bucket_id, rb.folder, r.mode FROM repo_buckets rb"
            " JOIN repos r ON r.id = rb.repo_id WHERE r.deleted_at IS NULL AND r.id IS NOT ?",
            (repo_id,),
        )

    def _check_llms(self, workspace_id: str, llm_ids: Sequence[str]) -> None:
        for llm_id in llm_ids:
            row = self._one("SELECT workspace_id FROM ai_llms WHERE id = ?", (llm_id,))
            if row is None or row["workspace_id"] != workspace_id:
                raise repo_problem("NOT_FOUND", f"AI LLM configuration {llm_id} not found", 404)

    def _write_attachments(
        self, repo_id: str, buckets: Sequence[Attachment], llm_ids: Sequence[str]
    ) -> None:
        self._exec("DELETE FROM repo_buckets WHERE repo_id = ?", (repo_id,))
        for position, a in enumerate(buckets):
            self._exec(
                "INSERT INTO repo_buckets (repo_id, bucket_id, folder, master, position)"
                " VALUES (?, ?, ?, ?, ?)",
                (repo_id, a.bucket_id, a.folder, int(a.master), position),
            )
        self._exec("DELETE FROM repo_llms WHERE repo_id = ?", (repo_id,))
        for position, llm_id in enumerate(dict.fromkeys(llm_ids)):
            self._exec(
                "INSERT INTO repo_llms (repo_id, ai_llm_id, position) VALUES (?, ?, ?)",
                (repo_id, llm_id, position),
            )

    def _attachments(self, repo_id: str) -> list[Attachment]:
        rows = self._all(
            "SELECT * FROM repo_buckets WHERE repo_id = ? ORDER BY position", (repo_id,)
        )
        return [Attachment(r["bucket_id"], r["folder"], bool(r["master"])) for r in rows]

    # -- shapes -----------------------------------------------------------------------------

    def repo_dto(self, row: RowLike, related: _Related | None = None) -> dict[str, Any]:
        """The RepoDTO; `related`: what it carries, when a list read it for every repo."""
        repo_id = row["id"]
        if related is None:
            related = self._related("SELECT ?", [repo_id])
        buckets = []
        for a in related.attachments.get(repo_id, []):
            bucket = related.buckets.get(a["bucket_id"])
            repos = related.bucket_repos.get(a["bucket_id"], [])
            buckets.append(
                {
                    "folder": a["folder"],
                    "master": bool(a["master"]),
                    "bucketId": a["bucket_id"],
                    **({"bucket": self.bucket_dto(bucket, repos)} if bucket else {}),
                }
            )
        llms = [
            {"aiLlmId": llm["id"], "aiLlm": self.llm_dto(llm, related.llm_repos.get(llm["id"], []))}
            for llm in related.llms.get(repo_id, [])
        ]
        dto = {
            "id": repo_id,
            "name": row["name"],
            "storageType": row["storage_type"],
            "mode": row["mode"],
            "workspaceId": row["workspace_id"],
            "buckets": buckets,
            "aiLlms": llms,
            "apiKeys": [self.api_key_dto(k) for k in related.api_keys.get(repo_id, [])],
            "aiApiKeys": [self.ai_key_dto(k) for k in related.ai_keys.get(repo_id, [])],
            "createdAt": row["created_at"],
            "disabled": False,
            "walletAddress": row["wallet_address"],
        }
        return without_absent(dto, "walletAddress")

    def _repo_llm_dtos(self, repo_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT l.* FROM repo_llms rl JOIN ai_llms l ON l.id = rl.ai_llm_id"
            " WHERE rl.repo_id = ? ORDER BY rl.position",
            (repo_id,),
        )
        return [self.llm_dto(r) for r in rows]

    # Provided by KeyOps and AiOps (Store composes them all).
    def list_repo_api_keys(self, repo_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def list_repo_ai_keys(self, repo_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def llm_dto(self, row: RowLike, repos_of: Sequence[RowLike] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def api_key_dto(row: RowLike) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def ai_key_dto(row: RowLike) -> dict[str, Any]:
        raise NotImplementedError

    def repo_llms(self, repo_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError


@dataclass(frozen=True)
class _Related:
    """Rows a RepoDTO carries, grouped by the id they belong to."""

    attachments: dict[str, list[Record]]
    buckets: dict[str, Record]
    bucket_repos: dict[str, list[Record]]
    llms: dict[str, list[Record]]
    llm_repos: dict[str, list[Record]]
    api_keys: dict[str, list[Record]]
    ai_keys: dict[str, list[Record]]


def _grouped(rows: list[Record], column: str) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for row in rows:
        groups.setdefault(row[column], []).append(row)
    return groups


def _in_other_repo(bucket_id: str) -> ApiProblem:
    return repo_problem(
        "MIRROR_UNIT_ALREADY_IN_OTHER_REPO",
        f"Bucket {bucket_id} is already in another repository (MIRROR buckets are exclusive)",
    )


_LIVE_WORKSPACE = "SELECT id FROM workspaces WHERE id = ? AND deleted_at IS NULL"
