"""The emulator's own admin API, under ``/_emulator/`` (not part of the real backend).

Token-protected like every management call; never faulted, logged or counted.

    GET    /_emulator/info                 org and user ids, data path, quotas, nodes
    POST   /_emulator/reset                forget all resources, statistics, faults, the
                                           request log and counters; quotas and credits back
                                           to the start-up values; nodes are kept
    GET    /_emulator/faults               {seed, rules[...with seen/fired counters]}
    PUT    /_emulator/faults               replace: a list of rules or {rules, seed}
    POST   /_emulator/faults               append: one rule, a list, or {rules}
    DELETE /_emulator/faults               remove every rule
    GET    /_emulator/requests?limit=N     request log (method, path, status, duration...)
    DELETE /_emulator/requests             clear the log and the counters
    GET    /_emulator/counters             {counters: {"METHOD /template": n}, total}
    GET    /_emulator/quotas               {quotas: {kind: limit | null}}
    PUT    /_emulator/quotas               merge {kind: limit | null}
    GET    /_emulator/credits              {subscription: bool, credits: number | null}
    PUT    /_emulator/credits              merge {subscription?: bool (false: GET /user/quota
                                           answers 404 NO_ACTIVE_SUBSCRIPTION), credits?:
                                           number (the balance granted) | null (credits
                                           system not enabled: /credits/balance answers 400)}
    GET    /_emulator/nodes                advertised nodes (store form, snake_case)
    PUT    /_emulator/nodes/{nodeId}       {latency_ms?, status?} (camelCase latencyMs too)
    POST   /_emulator/traffic              record storage traffic without a Bridge Node
    POST   /_emulator/ai-usage             record AI usage without the gateway
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, request

from fbplan.emulator.faults import FaultInjector, rules_from
from fbplan.emulator.payload import json_body, ok, query_int
from fbplan.emulator.problems import bad_request
from fbplan.emulator.recorder import RequestRecorder
from fbplan.emulator.store import Store

PREFIX = "/_emulator"


def register(app: Flask, store: Store, faults: FaultInjector, recorder: RequestRecorder) -> None:
    start_quotas = store.get_quotas()
    start_credits = store.get_credits_settings()

    @app.get(f"{PREFIX}/info")
    def info() -> Any:
        return ok(
            orgId=store.org_id,
            userId=store.user_id,
            dataPath=store.path,
            quotas=store.get_quotas(),
            credits=store.get_credits_settings(),
            nodes=store.list_nodes(),
        )

    @app.post(f"{PREFIX}/reset")
    def reset() -> Any:
        store.reset(start_quotas)
        store.set_credits_settings(start_credits)
        faults.clear()
        recorder.clear()
        return ok(message="Emulator state reset")

    @app.get(f"{PREFIX}/faults")
    def get_faults() -> Any:
        return ok(**faults.snapshot())

    @app.put(f"{PREFIX}/faults")
    def put_faults() -> Any:
        rules, seed = _parse_rules(request.get_json(silent=True))
        faults.set_rules(rules, seed)
        return ok(**faults.snapshot())

    @app.post(f"{PREFIX}/faults")
    def add_faults() -> Any:
        data = request.get_json(silent=True)
        rules, _ = _parse_rules([data] if isinstance(data, dict) and "action" in data else data)
        faults.add_rules(rules)
        return ok(**faults.snapshot())

    @app.delete(f"{PREFIX}/faults")
    def delete_faults() -> Any:
        faults.clear()
        return ok(**faults.snapshot())

    @app.get(f"{PREFIX}/requests")
    def get_requests() -> Any:
        return ok(requests=recorder.entries(query_int("limit")))

    @app.delete(f"{PREFIX}/requests")
    def clear_requests() -> Any:
        recorder.clear()
        return ok()

    @app.get(f"{PREFIX}/counters")
    def counters() -> Any:
        counts = recorder.counters()
        return ok(counters=counts, total=sum(counts.values()))

    @app.get(f"{PREFIX}/quotas")
    def get_quotas() -> Any:
        return ok(quotas=store.get_quotas())

    @app.put(f"{PREFIX}/quotas")
    def put_quotas() -> Any:
        return ok(quotas=store.set_quotas(json_body()))

    @app.get(f"{PREFIX}/credits")
    def get_credits() -> Any:
        return ok(**store.get_credits_settings())

    @app.put(f"{PREFIX}/credits")
    def put_credits() -> Any:
        return ok(**store.set_credits_settings(json_body()))

    @app.get(f"{PREFIX}/nodes")
    def get_nodes() -> Any:
        return ok(nodes=store.list_nodes())

    @app.put(f"{PREFIX}/nodes/<node_id>")
    def put_node(node_id: str) -> Any:
        body = json_body()
        latency = body.get("latency_ms", body.get("latencyMs"))
        if latency is not None and (
            isinstance(latency, bool) or not isinstance(latency, int | float)
        ):
            raise bad_request("latency_ms must be a number")
        return ok(node=store.update_node(node_id, latency, body.get("status")))

    @app.post(f"{PREFIX}/traffic")
    def record_traffic() -> Any:
        body = json_body()
        store.record_storage_traffic(
            body.get("repoId"),
            body.get("bucketId"),
            body.get("host"),
            _int(body, "uploadBytes"),
            _int(body, "downloadBytes"),
            _int(body, "sizeChange"),
            float(body.get("latencyMs") or 0),
            at=_at(body),
        )
        return ok()

    @app.post(f"{PREFIX}/ai-usage")
    def record_ai() -> Any:
        body = json_body()
        store.record_ai_usage(
            body.get("repoId"),
            body.get("aiLlmId"),
            body.get("repoAiApiKeyId"),
            body.get("llmModel"),
            body.get("llmType"),
            _int(body, "tokensIn"),
            _int(body, "tokensOut"),
            float(body.get("latencyMs") or 0),
            body.get("host"),
            bool(body.get("policyViolation")),
            bool(body.get("alert")),
            bool(body.get("block")),
            body.get("severity"),
            at=_at(body),
        )
        return ok()


def _parse_rules(data: Any) -> tuple[list[Any], int | None]:
    try:
        return rules_from(data)
    except (TypeError, ValueError) as err:
        raise bad_request(f"Invalid fault rules: {err}") from None


def _int(body: dict[str, Any], field: str) -> int:
    try:
        return int(body.get(field) or 0)
    except (TypeError, ValueError):
        raise bad_request(f"{field} must be an integer") from None


def _at(body: dict[str, Any]) -> datetime | None:
    value = body.get("at")
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise bad_request("at must be an ISO-8601 date-time") from None
