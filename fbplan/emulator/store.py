"""The emulator's backend state: one SQLite-backed `Store` with the backend's rules.

`Store` is assembled from one class per area, each building on the previous one:

    StoreBase      store_base.py        connection, transactions, org/user identity, quotas
    WorkspaceOps   store_workspaces.py  workspaces, provider API keys
    BucketOps      store_buckets.py     buckets
    RepoOps        store_repos.py       repositories, bucket and AI LLM attachments
    KeyOps         store_keys.py        repo storage API keys, repo AI API keys
    AiOps          store_ai.py          AI LLM configs, policies
    NodeOps        store_nodes.py       advertised nodes, node reports, bucket reachability
    StatsOps       store_stats.py       recorded traffic, statistics, quota usage
    CreditOps      store_credits.py     subscription, credit balance and rates
    Store          here                 the data-plane interface of the Bridge Node and gateway

Write methods raise `fbplan.emulator.problems.ApiProblem`, already shaped as the HTTP answer.
Public methods return plain dicts or None, never sqlite rows: API shapes (camelCase), except
node dicts, which keep the snake_case form `set_node` takes.
The methods below are the contract with `bridge.py` and `gateway.py`.
"""

from __future__ import annotations

from typing import Any

from fbplan.emulator.store_credits import CreditOps
from fbplan.emulator.store_keys import sha256


class Store(CreditOps):
    """All emulated backend state (``Store(":memory:")`` or ``Store(path)``)."""

    def find_repo_api_key_by_key(self, key: str) -> dict[str, Any] | None:
        """The repo storage key whose ``key`` is `key`, on a live repository, with its secret
        in clear: ``{id, repoId, repoName, workspaceId, name, accessType, key, secret}``."""
        row = self._one(
            "SELECT k.*, r.name AS repo_name, r.workspace_id FROM repo_api_keys k"
            " JOIN repos r ON r.id = k.repo_id WHERE k.key = ? AND r.deleted_at IS NULL",
            (key,),
        )
        if row is None:
            return None
        return {
            "id": row["id"],
            "repoId": row["repo_id"],
            "repoName": row["repo_name"],
            "workspaceId": row["workspace_id"],
            "name": row["name"],
            "accessType": row["access_type"],
            "key": row["key"],
            "secret": row["secret"],
        }

    def find_repo_ai_key_by_token(self, token: str) -> dict[str, Any] | None:
        """The live repo AI key whose create-time ``secret`` is `token` (the gateway's bearer
        token): ``{id, repoId, repoName, workspaceId, name, aiType}``."""
        row = self._one(
            "SELECT k.*, r.name AS repo_name, r.workspace_id FROM repo_ai_keys k"
            " JOIN repos r ON r.id = k.repo_id"
            " WHERE k.secret_sha256 = ? AND k.deleted_at IS NULL AND r.deleted_at IS NULL",
            (sha256(token),),
        )
        if row is None:
            return None
        return {
            "id": row["id"],
            "repoId": row["repo_id"],
            "repoName": row["repo_name"],
            "workspaceId": row["workspace_id"],
            "name": row["name"],
            "aiType": row["ai_type"],
        }

    # repo_llms(repo_id), policies_for_repo(repo_id)      -> store_ai.AiOps
    # record_storage_traffic(...), record_ai_usage(...)   -> store_stats.StatsOps
    # list_nodes(), set_node(...), update_node(...)       -> store_nodes.NodeOps
    # repo_bucket_ids(repo_id)                            -> store_repos.RepoOps
