"""Routes: repositories (``/repo``), their storage keys, AI keys and cloud keys.

Bodies reach these routes already checked against the API contract
(`fbplan.emulator.contract_check`): ``repoBuckets`` items are ``{bucketId, folder, master}``
(the legacy ``repoUnits`` is refused there), ``repoAiLlms`` items ``{aiLlmId}``, and every
required field is present with the right type and enum. The routes add what a schema cannot
say: the ``repoId`` that the official client sends in the body of ``POST /repo/{repoId}/apikey``
and ``POST /repo/{repoId}/validate`` must be the one in the path.

``GET /repo`` filters on ``workspaceId``, ``repoId`` (comma-separated) and ``walletAddress``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from fbplan.emulator.payload import json_body, ok, query, query_csv
from fbplan.emulator.problems import bad_request
from fbplan.emulator.store import Store
from fbplan.emulator.store_repos import Attachment


def attachments(body: dict[str, Any]) -> list[Attachment]:
    """The bucket attachments of a repository body (``repoBuckets``, required)."""
    return [
        Attachment(item["bucketId"], item["folder"], item["master"]) for item in body["repoBuckets"]
    ]


def llm_ids(body: dict[str, Any]) -> list[str] | None:
    """The attached AI LLM ids; None when ``repoAiLlms`` is absent (keep them on update)."""
    if "repoAiLlms" not in body:
        return None
    return [item["aiLlmId"] for item in body["repoAiLlms"]]


def same_repo_id(body: dict[str, Any], repo_id: str) -> None:
    """The body's ``repoId`` names the repository of the path (the client builds the path
    from it, so they can only differ in a hand-made request)."""
    if body["repoId"] != repo_id:
        raise bad_request(f"Invalid request: body.repoId: is {body['repoId']!r}, not the path's")


def register(app: Flask, store: Store) -> None:
    _register_repos(app, store)
    _register_repo_keys(app, store)
    _register_cloud_keys(app, store)


def _register_cloud_keys(app: Flask, store: Store) -> None:
    """``/repo/{repoId}/cloud-apikey``: links to provider keys (section 9)."""

    @app.post("/repo/<repo_id>/cloud-apikey")
    def add_cloud_key(repo_id: str) -> Any:
        return ok(id=store.add_repo_cloud_key(repo_id, json_body()["apiKeyId"]))

    @app.get("/repo/<repo_id>/cloud-apikey")
    def list_cloud_keys(repo_id: str) -> Any:
        return ok(items=store.list_repo_cloud_keys(repo_id))

    @app.delete("/repo/<repo_id>/cloud-apikey/<link_id>")
    def remove_cloud_key(repo_id: str, link_id: str) -> Any:
        store.remove_repo_cloud_key(repo_id, link_id)
        return ok(message="Cloud API key removed")


def _register_repos(app: Flask, store: Store) -> None:
    @app.post("/repo")
    def create_repo() -> Any:
        body = json_body()
        repo_id = store.create_repo(
            body["workspaceId"],
            body["name"],
            body["storageType"],
            body["mode"],
            attachments(body),
            llm_ids(body) or [],
            body.get("walletAddress") or None,
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
            body["workspaceId"],
            body["name"],
            body["storageType"],
            body["mode"],
            attachments(body),
            llm_ids(body),
        )
        return ok(repoId=repo_id)

    @app.delete("/repo/<repo_id>")
    def delete_repo(repo_id: str) -> Any:
        store.delete_repo(repo_id)
        return ok()

    @app.post("/repo/validate")
    def validate_new_repo() -> Any:
        body = json_body()  # its repoId names no repository yet: not looked up
        return jsonify(store.validate_repo(None, body["mode"], attachments(body)))

    @app.post("/repo/<repo_id>/validate")
    def validate_repo(repo_id: str) -> Any:
        body = json_body()
        same_repo_id(body, repo_id)
        return jsonify(store.validate_repo(repo_id, body["mode"], attachments(body)))

    @app.get("/repo/stats")
    def repo_stats() -> Any:
        return ok(stats=store.repo_stats(query_csv("repoId")))


def _register_repo_keys(app: Flask, store: Store) -> None:
    @app.post("/repo/<repo_id>/apikey")
    def create_repo_api_key(repo_id: str) -> Any:
        body = json_body()
        same_repo_id(body, repo_id)
        return ok(**store.create_repo_api_key(repo_id, body["name"], body["accessType"]))

    @app.get("/repo/<repo_id>/apikey")
    def list_repo_api_keys(repo_id: str) -> Any:
        store.live_repo(repo_id)
        return ok(keys=store.list_repo_api_keys(repo_id))

    @app.put("/repo/<repo_id>/apikey/<key_id>")
    def update_repo_api_key(repo_id: str, key_id: str) -> Any:
        body = json_body()  # [C]: name and accessType both required
        store.update_repo_api_key(repo_id, key_id, body["name"], body["accessType"])
        return ok(message="API key updated")

    @app.delete("/repo/<repo_id>/apikey/<key_id>")
    def delete_repo_api_key(repo_id: str, key_id: str) -> Any:
        store.delete_repo_api_key(repo_id, key_id)
        return ok(message="API key deleted")

    @app.post("/repo/<repo_id>/ai/apikey")
    def create_repo_ai_key(repo_id: str) -> Any:
        body = json_body()
        created = store.create_repo_ai_key(repo_id, body["name"], body["aiType"])
        return ok(**created, message="AI API key created")

    @app.get("/repo/<repo_id>/ai/apikey")
    def list_repo_ai_keys(repo_id: str) -> Any:
        store.live_repo(repo_id)
        return ok(apiKeys=store.list_repo_ai_keys(repo_id))

    @app.put("/repo/<repo_id>/ai/apikey/<key_id>")
    def update_repo_ai_key(repo_id: str, key_id: str) -> Any:
        body = json_body()  # name only: aiType is fixed (the contract refuses it here)
        store.update_repo_ai_key(repo_id, key_id, body.get("name"))
        return ok(message="AI API key updated")

    @app.delete("/repo/<repo_id>/ai/apikey/<key_id>")
    def delete_repo_ai_key(repo_id: str, key_id: str) -> Any:
        store.delete_repo_ai_key(repo_id, key_id)
        return ok(message="AI API key deleted")
