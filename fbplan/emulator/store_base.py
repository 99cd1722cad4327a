"""SQLite persistence under the emulator's store: connection, schema, identity, quotas.

One connection per `Store`, shared by every server thread (``check_same_thread=False``) and
serialized by one re-entrant lock; every write runs in one ``BEGIN IMMEDIATE`` transaction,
so a rule check and the write it guards are atomic. A second `Store` on the same file (a
restart) sees everything: the organization and user ids are created once and kept in ``meta``.

Secrets that the emulator never has to use (provider key, bucket and AI LLM secrets) are not
stored at all: only an opaque random "encrypted envelope" is kept to show in place of a bucket
secret. Repo storage key secrets are stored in clear because the Bridge Node must verify SigV4
with them; repo AI key secrets are stored as a SHA-256 digest (the gateway only compares).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fbplan.emulator.problems import bad_request, quota_exceeded

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, deleted_at TEXT);
CREATE TABLE IF NOT EXISTS provider_keys (
    id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, provider TEXT NOT NULL, key TEXT NOT NULL,
    endpoint TEXT, region TEXT, tenant_id TEXT, subscription_id TEXT, description TEXT,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (
    id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, name TEXT NOT NULL, bucket TEXT NOT NULL,
    storage_type TEXT NOT NULL, key TEXT, envelope TEXT, region TEXT, endpoint TEXT,
    api_key_id TEXT, wallet_address TEXT, status TEXT, last_status_at TEXT,
    created_at TEXT NOT NULL, deleted_at TEXT);
CREATE TABLE IF NOT EXISTS repos (
    id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, name TEXT NOT NULL,
    storage_type TEXT NOT NULL, mode TEXT NOT NULL, wallet_address TEXT,
    created_at TEXT NOT NULL, deleted_at TEXT);
CREATE TABLE IF NOT EXISTS repo_buckets (
    repo_id TEXT NOT NULL, bucket_id TEXT NOT NULL, folder TEXT NOT NULL, master INTEGER NOT NULL,
    position INTEGER NOT NULL, PRIMARY KEY (repo_id, bucket_id));
CREATE TABLE IF NOT EXISTS ai_llms (
    id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, name TEXT NOT NULL, ai_type TEXT NOT NULL,
    endpoint TEXT, has_key INTEGER NOT NULL, has_secret INTEGER NOT NULL, api_key_id TEXT,
    validated_at TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repo_llms (
    repo_id TEXT NOT NULL, ai_llm_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (repo_id, ai_llm_id));
CREATE TABLE IF NOT EXISTS repo_api_keys (
    id TEXT PRIMARY KEY, repo_id TEXT NOT NULL, name TEXT NOT NULL, access_type TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE, secret TEXT NOT NULL, envelope TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repo_ai_keys (
    id TEXT PRIMARY KEY, repo_id TEXT NOT NULL, name TEXT NOT NULL, ai_type TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE, secret_sha256 TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
    deleted_at TEXT);
CREATE TABLE IF NOT EXISTS workspace_users (
    workspace_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id));
CREATE TABLE IF NOT EXISTS repo_cloud_keys (
    id TEXT PRIMARY KEY, repo_id TEXT NOT NULL, api_key_id TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (repo_id, api_key_id));
CREATE TABLE IF NOT EXISTS policies (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, content TEXT NOT NULL, risk_type TEXT NOT NULL,
    action_type INTEGER NOT NULL, workspace_id TEXT, repo_id TEXT, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, deleted_at TEXT);
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, region TEXT NOT NULL, provider TEXT NOT NULL,
    latency_ms REAL NOT NULL, status TEXT NOT NULL, services INTEGER NOT NULL,
    version TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS storage_traffic (
    ts TEXT NOT NULL, repo_id TEXT, bucket_id TEXT, host TEXT, upload INTEGER NOT NULL,
    download INTEGER NOT NULL, size_change INTEGER NOT NULL, latency_ms REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ai_usage (
    ts TEXT NOT NULL, repo_id TEXT, ai_llm_id TEXT, ai_key_id TEXT, model TEXT, llm_type TEXT,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, latency_ms REAL NOT NULL,
    host TEXT, violation INTEGER NOT NULL, alert INTEGER NOT NULL, block INTEGER NOT NULL,
    severity TEXT);
CREATE INDEX IF NOT EXISTS traffic_ts ON storage_traffic (ts);
CREATE INDEX IF NOT EXISTS repo_buckets_bucket ON repo_buckets (bucket_id);
CREATE INDEX IF NOT EXISTS repo_llms_llm ON repo_llms (ai_llm_id);
CREATE INDEX IF NOT EXISTS repo_api_keys_repo ON repo_api_keys (repo_id);
CREATE INDEX IF NOT EXISTS repo_ai_keys_repo ON repo_ai_keys (repo_id);
CREATE INDEX IF NOT EXISTS policies_repo ON policies (repo_id);
CREATE INDEX IF NOT EXISTS repos_workspace ON repos (workspace_id);
CREATE INDEX IF NOT EXISTS ai_usage_ts ON ai_usage (ts);
"""

# Tables emptied by `reset`; `meta` (identity) and `nodes` (infrastructure) survive.
RESOURCE_TABLES = (
    "workspaces",
    "provider_keys",
    "buckets",
    "repos",
    "repo_buckets",
    "ai_llms",
    "repo_llms",
    "repo_api_keys",
    "repo_ai_keys",
    "repo_cloud_keys",
    "workspace_users",
    "policies",
    "storage_traffic",
    "ai_usage",
)

# Org-wide limits settable with `set_quotas` (None = unlimited, the default).
QUOTA_KINDS = (
    "workspaces",
    "apiKeys",
    "buckets",
    "repos",
    "aiLlms",
    "repoApiKeys",
    "repoAiApiKeys",
    "policies",
    "storageBytes",
    "egressMonthlyBytes",
)

USER_PROFILE = {"name": "Emulator", "lastName": "User", "email": "emulator@flashback.local"}
ORG_NAME = "Emulated Organization"


Record = dict[str, Any]  # a row read by `StoreBase._records`
RowLike = sqlite3.Row | Mapping[str, Any]  # what the DTO builders read a row from


def now_iso() -> str:
    """The current UTC time as ISO-8601 with milliseconds and ``Z``."""
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z`` (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def without_absent(dto: dict[str, Any], *optional: str) -> dict[str, Any]:
    """`dto` without the `optional` fields that hold no value: the API's DTOs declare them
    `field?: T` (may be absent), not nullable, so they are left out rather than sent as null.
    They are removed in place (a list builds thousands of DTOs); `dto` is returned."""
    for key in optional:
        if key in dto and dto[key] is None:
            del dto[key]
    return dto


def new_id() -> str:
    return str(uuid.uuid4())


def new_envelope() -> str:
    """A fresh opaque stand-in for an encrypted secret: ``{key, iv, authTag, message}``."""

    def b64(size: int) -> str:
        return base64.b64encode(secrets.token_bytes(size)).decode()

    envelope = {"key": b64(256), "iv": secrets.token_hex(12), "authTag": secrets.token_hex(16)}
    return json.dumps({**envelope, "message": b64(48)})


def envelope_of(text: str) -> dict[str, str]:
    """The stored envelope as the DTO shows it (a copy: the parsed form is cached)."""
    return dict(_parsed_envelope(text))


@functools.lru_cache(maxsize=16_384)
def _parsed_envelope(text: str) -> dict[str, str]:
    """Parsing the same few hundred bytes on every list of a thousand keys adds up."""
    parsed: dict[str, str] = json.loads(text)
    return parsed


def _private_database(path: Path) -> None:
    """Make the database file (it holds key secrets in clear) readable by its owner only,
    before SQLite opens it: SQLite gives its WAL and shared-memory files the database
    file's mode, so they are private too. Files left by an older run are tightened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(file, 0o600)


class StoreBase:
    """Connection, transactions, the fixed org and user, and quotas."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _private_database(Path(self.path))
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout = 5000")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            # A commit survives the emulator's crash, not the machine's: enough for an
            # emulator, and no fsync per write (a write costs about 1 ms, not 6).
            self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._conn.executescript(SCHEMA)
        with self._tx():
            self._init_identity()
        self.org_id: str = self._meta("org_id") or ""
        self.user_id: str = self._meta("user_id") or ""

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (re-entrant: a nested call joins the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def _all(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, tuple(params)))

    def _records(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Record]:
        """Rows as plain dicts: cheaper than `sqlite3.Row`s where thousands of rows are
        read and each of their columns looked up by name (a list's DTOs)."""
        with self._lock:
            cursor = self._conn.cursor()
            cursor.row_factory = None
            cursor.execute(sql, tuple(params))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    def _one(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchone()

    def _exec(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> None:
        with self._tx() as conn:
            conn.execute(sql, tuple(params))

    def _count(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        row = self._one(sql, params)
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- identity ---------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def _set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _init_identity(self) -> None:
        if self._meta("org_id"):
            return
        self._set_meta("schema_version", str(SCHEMA_VERSION))
        self._set_meta("org_id", new_id())
        self._set_meta("user_id", new_id())
        self._set_meta("created_at", now_iso())
        self._set_meta("quotas", json.dumps(dict.fromkeys(QUOTA_KINDS)))

    def user_summary(self) -> dict[str, Any]:
        """``{id, name, lastName, email}`` of the one emulated user (PolicyDTO ``createdBy``)."""
        return {"id": self.user_id, **USER_PROFILE}

    def profile(self) -> dict[str, Any]:
        """``data`` of ``GET /user/profile``: the user is OWNER of the emulated organization."""
        return {
            **self.user_summary(),
            "orgId": self.org_id,
            "orgRole": 255,
            "orgRoleDescription": "OWNER",
            "orgRoles": [255],
            "validated": True,
            "mfaRequired": False,
            "isBusiness": False,
        }

    def organization(self) -> dict[str, Any]:
        return {
            "id": self.org_id,
            "name": ORG_NAME,
            "domain": "flashback.local",
            "address1": None,
            "address2": None,
            "city": None,
            "zipcode": None,
            "phone": None,
            "state": None,
            "country": None,
            "website": None,
            "deletedAt": None,
            "reposDisabled": False,
            "is_business": False,
            "mfaEnforced": False,
        }

    # -- quotas -----------------------------------------------------------------------------

    def get_quotas(self) -> dict[str, int | None]:
        stored = json.loads(self._meta("quotas") or "{}")
        return {kind: stored.get(kind) for kind in QUOTA_KINDS}

    def set_quotas(self, updates: Mapping[str, Any]) -> dict[str, int | None]:
        """Merge `updates` (kind -> limit, None = unlimited) into the quotas; return them all."""
        quotas = self.get_quotas()
        for kind, limit in updates.items():
            if kind not in QUOTA_KINDS:
                raise bad_request(
                    f"Unknown quota {kind!r}; expected one of {', '.join(QUOTA_KINDS)}"
                )
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
                raise bad_request(f"Quota {kind!r} must be a non-negative integer or null")
            if limit is not None and limit < 0:
                raise bad_request(f"Quota {kind!r} must be a non-negative integer or null")
            quotas[kind] = limit
        self._set_meta("quotas", json.dumps(quotas))
        return quotas

    def _check_quota(self, kind: str, used: int) -> None:
        """Refuse one more `kind` when `used` already reaches the org's limit."""
        limit = self.get_quotas().get(kind)
        if limit is not None and used >= limit:
            raise quota_exceeded(kind, limit)

    # -- reset ------------------------------------------------------------------------------

    def reset(self, quotas: Mapping[str, Any] | None = None) -> None:
        """Forget every resource and statistic; keep the org, the user and the nodes.

        Quotas go back to unlimited, then `quotas` (if given) is applied.
        """
        with self._tx() as conn:
            for table in RESOURCE_TABLES:
                conn.execute(f"DELETE FROM {table}")
            self._set_meta("quotas", json.dumps(dict.fromkeys(QUOTA_KINDS)))
            if quotas:
                self.set_quotas(quotas)
