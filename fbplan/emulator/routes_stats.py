"""Routes: statistics (``/stats/*``, ``/aistats/*``), nodes (``/node``), ``/user/quota`` and
``/credits/balance`` and ``/credits/rates`` (the latter without authentication, as documented).

The four time-series endpoints wrap as ``{success, data[]}``; ``startDate``/``endDate`` are
ISO dates or date-times (a bare ``endDate`` date includes that whole day); the node daily
report takes ``ddmmyyyy`` numbers (the client's comment; the contract refuses anything else)
and defaults to today. Query values are checked against the contract before these routes run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from fbplan.emulator.payload import ok, parse_day, query, query_csv, query_datetime, query_int
from fbplan.emulator.store import Store
from fbplan.emulator.store_stats import Filters


def register(app: Flask, store: Store) -> None:
    def storage_series(period: str) -> Any:
        filters: Filters = {
            "repo_id": query_csv("repoId"),
            "bucket_id": query_csv("bucketId", "unitId"),
            "host": query_csv("hosts"),
        }
        rows = store.storage_stats(period, *_range(), filters)
        return ok(data=rows)

    def ai_series(period: str) -> Any:
        filters: Filters = {
            "repo_id": query_csv("repoId"),
            "ai_llm_id": query_csv("aiLlmId"),
            "ai_key_id": query_csv("repoAiApiKeyId"),
            "host": query_csv("hosts"),
            "llm_type": query_csv("llmType"),
            "model": query_csv("llmModel"),
            "user": query_csv("userUuid"),
            "conversation": query_csv("conversationUuid"),
        }
        return ok(data=store.ai_stats(period, *_range(), filters))

    @app.get("/stats/daily")
    def stats_daily() -> Any:
        return storage_series("day")

    @app.get("/stats/minute")
    def stats_minute() -> Any:
        return storage_series("minute")

    @app.get("/aistats/daily")
    def aistats_daily() -> Any:
        return ai_series("day")

    @app.get("/aistats/minute")
    def aistats_minute() -> Any:
        return ai_series("minute")

    @app.get("/stats/nodes/minute")
    def nodes_minute() -> Any:
        return ok(data=store.nodes_minute(query_csv("bucketId", "unitId")))

    @app.get("/stats/nodes/daily")
    def nodes_daily() -> Any:
        today = datetime.now(UTC).date()
        start, end = query("startDate"), query("endDate")
        first = parse_day(start, "startDate") if start else today
        last = parse_day(end, "endDate") if end else max(first, today)
        return ok(data=store.nodes_daily(query_csv("bucketId", "unitId"), first, last))

    @app.get("/node")
    def nodes() -> Any:
        services = query_int("nodeServices", required=True) or 0
        data = [store.node_info(node) for node in store.list_nodes(services)]
        return ok(data=data, total=len(data))

    @app.get("/user/quota")
    def quota() -> Any:
        store.check_subscription()
        subscription = {
            "id": store.org_id,
            "name": "Emulator",
            "description": "Local Flashback emulator subscription (quotas set by the admin API)",
        }
        return ok(subscription=subscription, quotaUsage=store.quota_usage())

    @app.get("/credits/balance")
    def credit_balance() -> Any:
        return ok(data=store.credit_balance())

    @app.get("/credits/rates")
    def credit_rates() -> Any:
        return ok(data=store.credit_rates())


def _range() -> tuple[datetime | None, datetime | None]:
    return query_datetime("startDate"), query_datetime("endDate", end_of_day=True)
