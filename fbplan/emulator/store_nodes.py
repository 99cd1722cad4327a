"""Nodes the emulator advertises and the per-node reports (flashback-api.md 5, 13, 14).

Nodes are rows of the ``nodes`` table: the Bridge Nodes and the AI gateway that `server.py`
starts (`set_node`), whose latency and status the admin API can change (`update_node`). The
latency reported everywhere (``/node``, ``/stats/nodes/*``, bucket status and node stats) is
that configured latency; a node is 100 % "online" on a day when its status is ``ONLINE``.
``/stats/nodes/*`` rows carry both ``bucketId`` and the legacy ``unitId``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from fbplan.emulator.problems import bad_request, not_found
from fbplan.emulator.store_ai import AiOps
from fbplan.emulator.store_base import now_iso

NODE_STATUSES = ("ONLINE", "OFFLINE", "DISCONNECTED")
SERVICE_STORAGE, SERVICE_AI, SERVICE_CHAT = 1, 2, 4
MAX_DAYS = 400


class NodeOps(AiOps):
    """Nodes, node statistics and bucket reachability."""

    # -- nodes ------------------------------------------------------------------------------

    def set_node(
        self,
        node_id: str,
        url: str,
        region: str,
        provider: str,
        latency_ms: float,
        status: str,
        *,
        services: int = SERVICE_STORAGE,
        version: str = "emulator-1",
    ) -> dict[str, Any]:
        """Advertise (or replace) a node; `services` is the ``nodeServices`` bitmask."""
        _check_status(status)
        self._exec(
            "INSERT OR REPLACE INTO nodes (id, url, region, provider, latency_ms, status,"
            " services, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                node_id,
                url,
                region,
                provider,
                float(latency_ms),
                status,
                services,
                version,
                now_iso(),
            ),
        )
        return self.get_node(node_id) or {}

    def update_node(
        self, node_id: str, latency_ms: float | None = None, status: str | None = None
    ) -> dict[str, Any]:
        with self._tx():
            if self.get_node(node_id) is None:
                raise not_found("Node")
            if latency_ms is not None:
                self._exec(
                    "UPDATE nodes SET latency_ms = ? WHERE id = ?", (float(latency_ms), node_id)
                )
            if status is not None:
                _check_status(status)
                self._exec("UPDATE nodes SET status = ? WHERE id = ?", (status, node_id))
            self._exec("UPDATE nodes SET updated_at = ? WHERE id = ?", (now_iso(), node_id))
            return self.get_node(node_id) or {}

    def remove_node(self, node_id: str) -> None:
        self._exec("DELETE FROM nodes WHERE id = ?", (node_id,))

    def get_node(self, node_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM nodes WHERE id = ?", (node_id,))
        return _node(row) if row else None

    def list_nodes(self, services: int = 0) -> list[dict[str, Any]]:
        """Advertised nodes: ``{id, url, region, provider, latency_ms, status, services,
        version, updated_at}``; `services` 0 = all, else a ``nodeServices`` bitmask."""
        nodes = [_node(row) for row in self._all("SELECT * FROM nodes ORDER BY rowid")]
        return [n for n in nodes if not services or n["services"] & services]

    @staticmethod
    def node_info(node: dict[str, Any]) -> dict[str, Any]:
        """``NodeInfo`` of ``GET /node``."""
        return {
            "id": node["id"],
            "ip": urlsplit(node["url"]).hostname,
            "region": node["region"],
            "version": node["version"],
            "status": node["status"],
            "latencyMs": node["latency_ms"],
            "lastUpdated": node["updated_at"],
            "url": node["url"],
            "nodeServices": node["services"],
        }

    # -- node statistics --------------------------------------------------------------------

    def nodes_minute(self, bucket_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        rows = []
        for bucket_id in self._ids("buckets", bucket_ids):
            for node in self.list_nodes(SERVICE_STORAGE):
                rows.append(
                    {
                        "nodeId": node["id"],
                        "unitId": bucket_id,
                        "nodeStatus": node["status"],
                        "lastUpdated": node["updated_at"],
                        "latency_ms": node["latency_ms"],
                    }
                )
        return rows

    def nodes_daily(
        self, bucket_ids: Sequence[str] | None, first: date, last: date
    ) -> list[dict[str, Any]]:
        if last < first or (last - first).days > MAX_DAYS:
            raise bad_request(
                f"startDate..endDate must be an ordered range of at most {MAX_DAYS} days"
            )
        rows = []
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        for bucket_id in self._ids("buckets", bucket_ids):
            bucket = self._bucket_row(bucket_id)
            for node in self.list_nodes(SERVICE_STORAGE):
                for day in days:
                    rows.append(
                        {
                            "nodeId": node["id"],
                            "unitId": bucket_id,
                            "day": ddmmyyyy(day),
                            "online": 100.0 if node["status"] == "ONLINE" else 0.0,
                            "latency_ms": node["latency_ms"],
                            "endpoint": node["url"],
                            "region": node["region"],
                            "storageType": bucket["storage_type"],
                            "provider": node["provider"],
                            "status": node["status"],
                            "version": node["version"],
                        }
                    )
        return rows

    def bucket_status(self, bucket_id: str) -> dict[str, Any]:
        self._bucket_row(bucket_id)
        statuses = [
            {
                "ip": urlsplit(n["url"]).hostname,
                "region": n["region"],
                "version": n["version"],
                "status": n["status"],
                "latencyMs": n["latency_ms"],
                "lastUpdated": n["updated_at"],
            }
            for n in self.list_nodes(SERVICE_STORAGE)
        ]
        return {"bucketId": bucket_id, "nodeStatus": statuses}

    def bucket_node_stats(self, bucket_id: str, day: date) -> list[dict[str, Any]]:
        """The nodes' report for `day`; the emulator keeps no history, so every day reads
        the nodes' current state (rows carry no day: `BucketNodeStatsDailyInfo` has none)."""
        del day
        self._bucket_row(bucket_id)
        return [
            {
                "ip": urlsplit(n["url"]).hostname,
                "host": urlsplit(n["url"]).netloc,
                "perc_uptime": 100.0 if n["status"] == "ONLINE" else 0.0,
                "avg_latency_ms": n["latency_ms"],
                "version": n["version"],
                "node_status": n["status"],
                "last_updated": n["updated_at"],
                "last_latency_ms": n["latency_ms"],
            }
            for n in self.list_nodes(SERVICE_STORAGE)
        ]

    def validate_bucket(self, bucket_id: str) -> dict[str, Any]:
        """Reachability "through the online nodes": fails (400) only when nodes are
        advertised and none is online; no outbound call is made."""
        with self._tx():
            self._bucket_row(bucket_id)
            nodes = self.list_nodes(SERVICE_STORAGE)
            online = [n for n in nodes if n["status"] == "ONLINE"]
            if nodes and not online:
                raise bad_request("Bucket validation failed: no online node can reach the bucket")
            latency = min((n["latency_ms"] for n in online), default=0.0)
            self._exec(
                "UPDATE buckets SET status = 'ONLINE', last_status_at = ? WHERE id = ?",
                (now_iso(), bucket_id),
            )
            return {
                "success": True,
                "message": "Bucket is reachable",
                "status": "ONLINE",
                "latency_ms": latency,
            }

    def _ids(self, table: str, wanted: Sequence[str] | None) -> list[str]:
        """Live ids of `table` in creation order, restricted to `wanted` when given."""
        live = "deleted_at IS NULL" if table != "ai_llms" else "1 = 1"
        ids = [r["id"] for r in self._all(f"SELECT id FROM {table} WHERE {live} ORDER BY rowid")]
        return [i for i in ids if wanted is None or i in set(wanted)]


def _check_status(status: str) -> None:
    if status not in NODE_STATUSES:
        raise bad_request(
            f"Invalid node status {status!r}; expected one of {', '.join(NODE_STATUSES)}"
        )


def _node(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "region": row["region"],
        "provider": row["provider"],
        "latency_ms": row["latency_ms"],
        "status": row["status"],
        "services": row["services"],
        "version": row["version"],
        "updated_at": row["updated_at"],
    }


def ddmmyyyy(day: date) -> int:
    """A day as the number the official client types it as (``ddmmyyyy``, like the query)."""
    return int(day.strftime("%d%m%Y"))
