"""Routes: repositories (``/repo``), their storage keys and their AI keys.

Attachment lists are read from ``repoBuckets`` (items ``{bucketId, folder, master}``) or the
legacy ``repoUnits`` (``{unitId, folder, master}``); an item that embeds the object
(``bucket`` / ``unit``) without the id uses the embedded ``id``. ``repoAiLlms`` items are
``{aiLlmId}``. ``folder`` defaults to ``""`` and ``master`` to false.

``GET /repo`` filters on ``workspaceId``, ``repoId`` (comma-separated) and ``walletAddress``.
``PUT /repo/{id}/apikey/{apikeyId}`` needs both ``name`` and ``accessType`` (the client's
type); ``PUT /repo/{id}/ai/apikey/{apikeyId}`` only ``name`` (optional).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from fbplan.emulator.payload import (
    ACCESS_TYPES,
    AI_TYPES,
    REPO_MODES,
    STORAGE_TYPES,
    as_str,
    boolean,
    enum_value,
    json_body,
    ok,
    query,
    query_csv,
    required_enum,
    required_str,
)
from fbplan.emulator.problems import bad_request
from fbplan.emulator.store import Store
from fbplan.emulator.store_repos import Attachment


def parse_attachments(body: dict[str, Any]) -> list[Attachment] | None:
    """The bucket attachments of a repo body; None when the body has no list at all."""
    if body.get("repoBuckets") is not None:
        field, id_field, embedded = "repoBuckets", "bucketId", "bucket"
    elif body.get("repoUnits") is not None:
        field, id_field, embedded = "repoUnits", "unitId", "unit"
    else:
        return None
    items = body[field]
    if not isinstance(items, list):
        raise bad_request(f"{field} must be an array")
    attachments = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_request(f"{field}[{index}] must be an object")
        inner = item.get(embedded) if isinstance(item.get(embedded), dict) else {}
        bucket_id = (
            item.get(id_field) or item.get("bucketId") or item.get("unitId") or inner.get("id")
        )
        if not isinstance(bucket_id, str) or not bucket_id:
            raise bad_request(f"Missing required field: {field}[{index}].{id_field}")
        folder = item.get("folder")
        if folder is not None and not isinstance(folder, str):
            raise bad_request(f"{field}[{index}].folder must be a string")
        master = boolean(item, "master")
        attachments.append(Attachment(bucket_id, folder or "", master))
    return attachments


def parse_llm_ids(body: dict[str, Any]) -> list[str] | None:
    items = body.get("repoAiLlms")
    if items is None:
        return None
    if not isinstance(items, list):
        raise bad_request("repoAiLlms must be an array")
    ids = []
    for index, item in enumerate(items):
        llm_id = item.get("aiLlmId") if isinstance(item, dict) else item
        if not isinstance(llm_id, str) or not llm_id:
            raise bad_request(f"Missing required field: repoAiLlms[{index}].aiLlmId")
        ids.append(llm_id)
    return ids


def register(app: Flask, store: Store) -> None:
    _register_repos(app, store)
    _register_repo_keys(app, store)


def _register_repos(app: Flask, store: Store) -> None:
    @app.post("/repo")
    def create_repo() -> Any:
        body = json_body()
        name = required_str(body, "name")
        storage_type = required_enum(body, "storageType", STORAGE_TYPES)
        mode = required_enum(body, "mode", REPO_MODES)
        workspace_id = required_str(body, "workspaceId")
        repo_id = store.create_repo(
            workspace_id,
            name,
            storage_type,
            mode,
            parse_attachments(body) or [],
            parse_llm_ids(body) or [],
            as_str(body, "walletAddress"),
        )
        return ok(repoId=repo_id)

    @app.get("/repo")
    def list_repos() -> Any:
        repos = store.list_repos(query("workspaceId"), query_csv("repoId"), query("walletAddress"))
        return ok(repos=repos)

    @app.put("/repo/<repo_id>")
    def update_repo(repo_id: str) -> Any:
        body = json_body()
        store.update_repo(
            repo_id,
            required_str(body, "name"),
            required_enum(body, "storageType", STORAGE_TYPES),
            required_enum(body, "mode", REPO_MODES),
            parse_attachments(body),
            parse_llm_ids(body),
            as_str(body, "workspaceId"),
        )
        return ok(repoId=repo_id)

    @app.delete("/repo/<repo_id>")
    def delete_repo(repo_id: str) -> Any:
        store.delete_repo(repo_id)
        return ok()

    @app.post("/repo/validate")
    def validate_new_repo() -> Any:
        body = json_body()
        mode = required_enum(body, "mode", REPO_MODES)
        return jsonify(store.validate_repo(None, mode, parse_attachments(body) or []))

    @app.post("/repo/<repo_id>/validate")
    def validate_repo(repo_id: str) -> Any:
        body = json_body()
        mode = required_enum(body, "mode", REPO_MODES)
        return jsonify(store.validate_repo(repo_id, mode, parse_attachments(body) or []))

    @app.get("/repo/stats")
    def repo_stats() -> Any:
        return ok(stats=store.repo_stats(query_csv("repoId")))


def _register_repo_keys(app: Flask, store: Store) -> None:
    @app.post("/repo/<repo_id>/apikey")
    def create_repo_api_key(repo_id: str) -> Any:
        body = json_body()
        name = required_str(body, "name")
        access_type = required_enum(body, "accessType", ACCESS_TYPES)
        return ok(**store.create_repo_api_key(repo_id, name, access_type))

    @app.get("/repo/<repo_id>/apikey")
    def list_repo_api_keys(repo_id: str) -> Any:
        store.live_repo(repo_id)
        return ok(keys=store.list_repo_api_keys(repo_id))

    @app.put("/repo/<repo_id>/apikey/<key_id>")
    def update_repo_api_key(repo_id: str, key_id: str) -> Any:
        body = json_body()  # [C]: name and accessType both required
        name = required_str(body, "name")
        access_type = required_enum(body, "accessType", ACCESS_TYPES)
        store.update_repo_api_key(repo_id, key_id, name, access_type)
        return ok(message="API key updated")

    @app.delete("/repo/<repo_id>/apikey/<key_id>")
    def delete_repo_api_key(repo_id: str, key_id: str) -> Any:
        store.delete_repo_api_key(repo_id, key_id)
        return ok(message="API key deleted")

    @app.post("/repo/<repo_id>/ai/apikey")
    def create_repo_ai_key(repo_id: str) -> Any:
        body = json_body()
        name = required_str(body, "name")
        ai_type = required_enum(body, "aiType", AI_TYPES)
        created = store.create_repo_ai_key(repo_id, name, ai_type)
        return ok(**created, message="AI API key created")

    @app.get("/repo/<repo_id>/ai/apikey")
    def list_repo_ai_keys(repo_id: str) -> Any:
        store.live_repo(repo_id)
        return ok(apiKeys=store.list_repo_ai_keys(repo_id))

    @app.put("/repo/<repo_id>/ai/apikey/<key_id>")
    def update_repo_ai_key(repo_id: str, key_id: str) -> Any:
        body = json_body()
        ai = as_str(body, "aiType")
        ai_type = enum_value(ai, "aiType", AI_TYPES) if ai else None
        store.update_repo_ai_key(repo_id, key_id, as_str(body, "name"), ai_type)
        return ok(message="AI API key updated")

    @app.delete("/repo/<repo_id>/ai/apikey/<key_id>")
    def delete_repo_ai_key(repo_id: str, key_id: str) -> Any:
        store.delete_repo_ai_key(repo_id, key_id)
        return ok(message="AI API key deleted")
