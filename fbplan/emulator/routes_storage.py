"""Routes: provider API keys (``/apikeys``, ``/providers``) and buckets (``/bucket``).

Bodies reach these routes already checked against the API contract
(`fbplan.emulator.contract_check`): required fields present, every field of its type and
enum, no null where the contract allows none, no unknown field (so ``workspaceId`` never
reaches a provider key update). An optional string sent empty clears the stored value.

``GET /bucket`` filters on ``workspaceId`` and ``walletAddress`` (each ignored when absent,
empty or the literal ``undefined`` the client sends for an unset argument).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from fbplan.emulator.payload import as_str, json_body, ok, parse_day, query, query_csv, query_int
from fbplan.emulator.store import Store

# body field -> store field, for the optional string fields of each kind
PROVIDER_KEY_OPTIONAL = {
    "endpoint": "endpoint",
    "region": "region",
    "tenantId": "tenant_id",
    "subscriptionId": "subscription_id",
    "description": "description",
}
BUCKET_OPTIONAL = {
    "key": "key",
    "secret": "secret",
    "region": "region",
    "endpoint": "endpoint",
    "apiKeyUuid": "api_key_id",
    "walletAddress": "wallet_address",
}


def optional_fields(body: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Store-named values of the optional fields present in `body` (empty clears)."""
    return {target: as_str(body, field) for field, target in mapping.items() if field in body}


def register(app: Flask, store: Store) -> None:
    _register_provider_keys(app, store)
    _register_buckets(app, store)


def _register_provider_keys(app: Flask, store: Store) -> None:
    @app.get("/providers")
    def providers() -> Any:
        return ok(providers=store.providers_catalogue())

    @app.post("/apikeys")
    def create_provider_key() -> Any:
        body = json_body()  # the secret is write-only: checked by the contract, never kept
        extra = optional_fields(body, PROVIDER_KEY_OPTIONAL)
        key_id = store.create_provider_key(
            body["workspaceId"], body["provider"], body["key"], **extra
        )
        return ok(apiKeyId=key_id, message="API key created")

    @app.get("/apikeys")
    def list_provider_keys() -> Any:
        keys = store.list_provider_keys(
            workspace_id=query("workspaceId"),
            capability=query_int("capability"),
            provider=query("provider"),
        )
        return ok(apiKeys=keys)

    @app.put("/apikeys/<key_id>")
    def update_provider_key(key_id: str) -> Any:
        body = json_body()  # a new secret is accepted, write-only, not kept
        changes = optional_fields(body, PROVIDER_KEY_OPTIONAL)
        changes.update({field: body[field] for field in ("key", "provider") if body.get(field)})
        store.update_provider_key(key_id, changes)
        return ok(message="API key updated")

    @app.delete("/apikeys/<key_id>")
    def delete_provider_key(key_id: str) -> Any:
        store.delete_provider_key(key_id)
        return ok(message="API key deleted")


def _register_buckets(app: Flask, store: Store) -> None:
    @app.post("/bucket")
    def create_bucket() -> Any:
        body = json_body()
        extra = optional_fields(body, BUCKET_OPTIONAL)
        bucket_id = store.create_bucket(
            body["workspaceId"], body["name"], body["bucket"], body["storageType"], **extra
        )
        return ok(bucketId=bucket_id)

    @app.get("/bucket")
    def list_buckets() -> Any:
        return ok(buckets=store.list_buckets(query("workspaceId"), query("walletAddress")))

    @app.get("/bucket/available")
    def available_buckets() -> Any:
        return jsonify(store.available_buckets(query("workspaceId")))

    @app.put("/bucket/<bucket_id>")
    def update_bucket(bucket_id: str) -> Any:
        body = json_body()  # the full body; optional fields left out keep their value
        changes = {
            **optional_fields(body, BUCKET_OPTIONAL),
            "name": body["name"],
            "bucket": body["bucket"],
            "storage_type": body["storageType"],
            "workspace_id": body["workspaceId"],
        }
        store.update_bucket(bucket_id, changes)
        status = store.bucket_status(bucket_id)["nodeStatus"]
        latency = min((n["latencyMs"] for n in status if n["status"] == "ONLINE"), default=0.0)
        return ok(bucketId=bucket_id, status="ONLINE", latency_ms=latency)

    @app.delete("/bucket/<bucket_id>")
    def delete_bucket(bucket_id: str) -> Any:
        store.delete_bucket(bucket_id)
        return ok()

    @app.post("/bucket/<bucket_id>/validate")
    def validate_bucket(bucket_id: str) -> Any:
        # [C]'s body {bucket, key?, secret?, endpoint?, apiKeyUuid?} is required by the
        # contract; the emulator checks the stored bucket, whatever the body names.
        return jsonify(store.validate_bucket(bucket_id))

    @app.get("/bucket/<bucket_id>/status")
    def bucket_status(bucket_id: str) -> Any:
        return jsonify(store.bucket_status(bucket_id))

    @app.post("/bucket/<bucket_id>/stats")
    def bucket_node_stats(bucket_id: str) -> Any:
        day = parse_day(json_body()["day"], "day")
        return ok(nodeStats=store.bucket_node_stats(bucket_id, day))

    @app.get("/bucket/stats")
    def bucket_stats() -> Any:
        return ok(stats=store.bucket_stats(query_csv("bucketId")))
