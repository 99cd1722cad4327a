"""Recorded traffic and the statistics built from it (flashback-api.md 13-15).

The Bridge Nodes and the AI gateway feed two tables, one row per request:
`record_storage_traffic` and `record_ai_usage`. Every statistics endpoint is an aggregation
of those rows, so numbers agree across endpoints. Byte and token counters are decimal
strings; event counts in ``/aistats`` rows (``apiCalls``, ``policyViolations``, ...) are
integers; every ``total*`` of the per-object totals is a string. Rows carry both ``bucketId``
and the legacy ``unitId`` (disagreement 7: which one the server sends is unsettled).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fbplan.emulator.store_base import iso, now_iso
from fbplan.emulator.store_nodes import NodeOps

Filters = dict[str, Sequence[str] | None]


class StatsOps(NodeOps):
    """Traffic recording, statistics and quota usage."""

    # -- recording --------------------------------------------------------------------------

    def record_storage_traffic(
        self,
        repo_id: str | None,
        bucket_id: str | None,
        host: str | None,
        upload_bytes: int,
        download_bytes: int,
        size_change: int,
        latency_ms: float,
        *,
        at: datetime | None = None,
    ) -> None:
        self._exec(
            "INSERT INTO storage_traffic (ts, repo_id, bucket_id, host, upload, download,"
            " size_change, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                iso(at) if at else now_iso(),
                repo_id,
                bucket_id,
                host,
                int(upload_bytes),
                int(download_bytes),
                int(size_change),
                float(latency_ms),
            ),
        )

    def record_ai_usage(
        self,
        repo_id: str | None,
        ai_llm_id: str | None,
        ai_key_id: str | None,
        model: str | None,
        llm_type: str | None,
        tokens_in: int,
        tokens_out: int,
        latency_ms: float,
        host: str | None,
        policy_violation: bool,
        alert: bool,
        block: bool,
        severity: str | None,
        *,
        at: datetime | None = None,
    ) -> None:
        self._exec(
            "INSERT INTO ai_usage (ts, repo_id, ai_llm_id, ai_key_id, model, llm_type, tokens_in,"
            " tokens_out, latency_ms, host, violation, alert, block, severity)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                iso(at) if at else now_iso(),
                repo_id,
                ai_llm_id,
                ai_key_id,
                model,
                llm_type,
                int(tokens_in),
                int(tokens_out),
                float(latency_ms),
                host,
                int(policy_violation),
                int(alert),
                int(block),
                severity.upper() if severity else None,
            ),
        )

    # -- storage statistics -----------------------------------------------------------------

    def storage_stats(
        self,
        period: str,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: Filters | None = None,
    ) -> list[dict[str, Any]]:
        """``/stats/minute`` (period ``minute``) and ``/stats/daily`` (``day``) rows;
        `filters` maps repo_id, bucket_id, host to allowed values."""
        bucket = _period_sql(period)
        where, params = _where(filters or {}, start, end)
        rows = self._all(
            f"SELECT {bucket} AS p, repo_id, bucket_id, host, SUM(upload) AS up,"
            " SUM(download) AS down, SUM(size_change) AS change, AVG(latency_ms) AS lat"
            f" FROM storage_traffic {where} GROUP BY p, repo_id, bucket_id, host ORDER BY p",
            params,
        )
        return [
            {
                "timestamp": _period_start(period, r["p"]),
                "repoId": r["repo_id"] or "",
                "unitId": r["bucket_id"] or "",
                "upl_bytes": str(r["up"]),
                "dwl_bytes": str(r["down"]),
                "size_change": str(r["change"]),
                "latency_ms": round(r["lat"], 3),
                "host": r["host"] or "",
            }
            for r in rows
        ]

    def repo_stats(self, repo_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        ids = self._ids("repos", repo_ids)
        return [
            {
                "repoId": repo_id,
                "totalUploadBytes": str(up),
                "totalDownloadBytes": str(down),
                "totalSizeChange": str(change),
            }
            for repo_id, (_, up, down, change) in ((i, self._traffic("repo_id", i)) for i in ids)
        ]

    def bucket_stats(self, bucket_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        ids = self._ids("buckets", bucket_ids)
        return [
            {
                "bucketId": bucket_id,
                "totalCount": str(count),
                "totalUploadBytes": str(up),
                "totalDownloadBytes": str(down),
                "totalSizeChange": str(change),
            }
            for bucket_id, (count, up, down, change) in (
                (i, self._traffic("bucket_id", i)) for i in ids
            )
        ]

    def _traffic(self, column: str, value: str) -> tuple[int, int, int, int]:
        row = self._one(
            "SELECT COUNT(*), COALESCE(SUM(upload), 0), COALESCE(SUM(download), 0),"
            f" COALESCE(SUM(size_change), 0) FROM storage_traffic WHERE {column} = ?",
            (value,),
        )
        return (row[0], row[1], row[2], row[3]) if row else (0, 0, 0, 0)

    # -- AI statistics ----------------------------------------------------------------------

    def ai_stats(
        self,
        period: str,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: Filters | None = None,
    ) -> list[dict[str, Any]]:
        """``/aistats/minute`` and ``/aistats/daily`` rows; `filters` maps repo_id,
        ai_llm_id, ai_key_id, host, llm_type, model, user, conversation to allowed values
        (the emulator records no user or conversation, so filtering on them matches nothing)."""
        filters = dict(filters or {})
        if filters.pop("user", None) is not None or filters.pop("conversation", None) is not None:
            return []
        bucket = _period_sql(period)
        where, params = _where(filters, start, end)
        keys = "repo_id, ai_llm_id, ai_key_id, llm_type, model, host"
        rows = self._all(
            f"SELECT {bucket} AS p, {keys}, SUM(tokens_in) AS tin, SUM(tokens_out) AS tout,"
            " COUNT(*) AS calls, SUM(violation) AS viol, SUM(alert) AS alerts,"
            " SUM(block) AS blocks, COALESCE(SUM(severity = 'LOW'), 0) AS low,"
            " COALESCE(SUM(severity = 'MEDIUM'), 0) AS medium,"
            " COALESCE(SUM(severity = 'HIGH'), 0) AS high,"
            f" AVG(latency_ms) AS lat FROM ai_usage {where} GROUP BY p, {keys} ORDER BY p",
            params,
        )
        return [_ai_row(period, r) for r in rows]

    def llm_stats(self, llm_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        result = []
        for llm_id in self._ids("ai_llms", llm_ids):
            r = self._one(
                "SELECT COUNT(*) AS calls, COALESCE(SUM(tokens_in), 0) AS tin,"
                " COALESCE(SUM(tokens_out), 0) AS tout, COALESCE(SUM(violation), 0) AS viol,"
                " COALESCE(SUM(alert), 0) AS alerts, COALESCE(SUM(block), 0) AS blocks"
                " FROM ai_usage WHERE ai_llm_id = ?",
                (llm_id,),
            )
            assert r is not None
            result.append(
                {
                    "aiLlmId": llm_id,
                    "totalApiCalls": str(r["calls"]),
                    "totalTokensIn": str(r["tin"]),
                    "totalTokensOut": str(r["tout"]),
                    "totalLlmTokensIn": str(r["tin"]),
                    "totalLlmTokensOut": str(r["tout"]),
                    "totalPolicyViolations": str(r["viol"]),
                    "totalAlerts": str(r["alerts"]),
                    "totalBlocks": str(r["blocks"]),
                }
            )
        return result

    # -- quota usage ------------------------------------------------------------------------

    def quota_usage(self) -> list[dict[str, Any]]:
        """``quotaUsage`` of ``GET /user/quota``: one entry per quota kind."""
        month = datetime.now(UTC).strftime("%Y-%m")
        used = {
            "workspaces": "SELECT COUNT(*) FROM workspaces WHERE deleted_at IS NULL",
            "apiKeys": "SELECT COUNT(*) FROM provider_keys",
            "buckets": "SELECT COUNT(*) FROM buckets WHERE deleted_at IS NULL",
            "repos": "SELECT COUNT(*) FROM repos WHERE deleted_at IS NULL",
            "aiLlms": "SELECT COUNT(*) FROM ai_llms",
            "repoApiKeys": "SELECT COUNT(*) FROM repo_api_keys k JOIN repos r"
            " ON r.id = k.repo_id WHERE r.deleted_at IS NULL",
            "repoAiApiKeys": "SELECT COUNT(*) FROM repo_ai_keys WHERE deleted_at IS NULL",
            "policies": "SELECT COUNT(*) FROM policies WHERE deleted_at IS NULL",
            "storageBytes": "SELECT MAX(COALESCE(SUM(size_change), 0), 0) FROM storage_traffic",
            "egressMonthlyBytes": "SELECT COALESCE(SUM(download), 0) FROM storage_traffic"
            f" WHERE substr(ts, 1, 7) = '{month}'",
        }
        quotas = self.get_quotas()
        entries = []
        for number, (kind, (code, kind_type, period)) in enumerate(CAPABILITIES.items(), 1):
            current, limit = self._count(used[kind]), quotas.get(kind)
            if limit is None:
                continue  # no quota on this capability: the subscription has no entry for it
            percentage = round(100.0 * current / limit, 2) if limit else 0.0
            entries.append(
                {
                    "capability": {
                        "id": str(number),
                        "code": code,
                        "description": f"Maximum {kind} of the organization",
                        "type": kind_type,
                        "periodType": period,
                    },
                    "usage": {
                        "current": current,
                        "max": limit,
                        "percentage": percentage,
                    },
                }
            )
        return entries


# quota kind -> (capability code, type, periodType)
CAPABILITIES = {
    "storageBytes": ("STORAGE_TOTAL_BYTES", "STORAGE", "ALL_TIME"),
    "egressMonthlyBytes": ("EGRESS_MONTHLY_BYTES", "TRAFFIC", "MONTHLY"),
    "workspaces": ("WORKSPACES_COUNT", "RESOURCE", "ALL_TIME"),
    "apiKeys": ("API_KEYS_COUNT", "RESOURCE", "ALL_TIME"),
    "buckets": ("BUCKETS_COUNT", "RESOURCE", "ALL_TIME"),
    "repos": ("REPOS_COUNT", "RESOURCE", "ALL_TIME"),
    "aiLlms": ("AI_LLMS_COUNT", "RESOURCE", "ALL_TIME"),
    "repoApiKeys": ("REPO_API_KEYS_COUNT", "RESOURCE", "ALL_TIME"),
    "repoAiApiKeys": ("REPO_AI_API_KEYS_COUNT", "RESOURCE", "ALL_TIME"),
    "policies": ("POLICIES_COUNT", "RESOURCE", "ALL_TIME"),
}


def _period_sql(period: str) -> str:
    if period not in ("minute", "day"):
        raise ValueError(f"unknown period {period!r}")
    return "substr(ts, 1, 16)" if period == "minute" else "substr(ts, 1, 10)"


def _period_start(period: str, prefix: str) -> int:
    """The period's start in epoch milliseconds: the official client types `timestamp` as a
    number (flashback-api.md section 17)."""
    text = prefix + (":00+00:00" if period == "minute" else "T00:00:00+00:00")
    return int(datetime.fromisoformat(text).timestamp() * 1000)


_COLUMNS = {
    "repo_id": "repo_id",
    "bucket_id": "bucket_id",
    "host": "host",
    "ai_llm_id": "ai_llm_id",
    "ai_key_id": "ai_key_id",
    "llm_type": "llm_type",
    "model": "model",
}


def _where(filters: Filters, start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    for name, values in filters.items():
        if values is None:
            continue
        column = _COLUMNS[name]
        clauses.append(f"{column} IN ({', '.join('?' for _ in values)})" if values else "0 = 1")
        params.extend(values)
    if start is not None:
        clauses.append("ts >= ?")
        params.append(iso(start))
    if end is not None:
        clauses.append("ts <= ?")
        params.append(iso(end))
    return "WHERE " + " AND ".join(clauses), params


def _ai_row(period: str, r: sqlite3.Row) -> dict[str, Any]:
    return {
        "timestamp": _period_start(period, r["p"]),
        "repoId": r["repo_id"] or "",
        "aiLlmId": r["ai_llm_id"] or "",
        "repoAiApiKeyId": r["ai_key_id"] or "",
        "tokensIn": str(r["tin"]),
        "tokensOut": str(r["tout"]),
        "llmTokensIn": str(r["tin"]),
        "llmTokensOut": str(r["tout"]),
        "activeConversations": 0,
        "apiCalls": r["calls"],
        "policyViolations": r["viol"],
        "numAlerts": r["alerts"],
        "numBlocks": r["blocks"],
        "numSeverityLow": r["low"],
        "numSeverityMedium": r["medium"],
        "numSeverityHigh": r["high"],
        "latency_ms": round(r["lat"], 3),
        "llmType": r["llm_type"] or "",
        "llmModel": r["model"] or "",
        "host": r["host"] or "",
        # The emulator records no user or conversation per call; the client types both as
        # non-null strings.
        "userUuid": "",
        "conversationUuid": "",
    }
