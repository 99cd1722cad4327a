"""Routes: AI LLM configurations (``/ai/llm``) and AI policies (``/policy``).

Bodies and queries reach these routes already checked against the API contract
(`fbplan.emulator.contract_check`): required fields present, types and enums right
(``actionType`` 0, 1 or 2), ``orgId`` given to ``GET /policy``, and no unknown field (so a
policy update never names a scope: ``workspaceId``/``repoId`` cannot change).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from fbplan.emulator.payload import as_str, json_body, ok, query, query_csv
from fbplan.emulator.store import Store


def register(app: Flask, store: Store) -> None:
    _register_llms(app, store)
    _register_policies(app, store)


def _register_llms(app: Flask, store: Store) -> None:
    @app.post("/ai/llm")
    def create_llm() -> Any:
        body = json_body()
        llm_id = store.create_llm(
            body["workspaceId"],
            body["name"],
            body["aiType"],
            endpoint=as_str(body, "endpoint"),
            key=as_str(body, "key"),
            secret=as_str(body, "secret"),
            api_key_id=as_str(body, "apiKeyUuid"),
        )
        return ok(aiLlmId=llm_id, message="AI LLM configuration created")

    @app.get("/ai/llm")
    def list_llms() -> Any:
        return ok(aiLlms=store.list_llms(query("workspaceId")))

    @app.get("/ai/llm/available")
    def available_llms() -> Any:
        return ok(aiLlms=store.available_llms())  # the contract takes no query here

    @app.put("/ai/llm/<llm_id>")
    def update_llm(llm_id: str) -> Any:
        body = json_body()
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = body["name"]
        if "aiType" in body:
            changes["ai_type"] = body["aiType"]
        for field, target in (("endpoint", "endpoint"), ("key", "key"), ("secret", "secret")):
            if field in body:
                changes[target] = as_str(body, field)
        if "apiKeyUuid" in body:
            changes["api_key_id"] = as_str(body, "apiKeyUuid")
        store.update_llm(llm_id, changes)
        return ok(aiLlmId=llm_id, message="AI LLM configuration updated")

    @app.delete("/ai/llm/<llm_id>")
    def delete_llm(llm_id: str) -> Any:
        store.delete_llm(llm_id)
        return ok(message="AI LLM configuration deleted")

    @app.post("/ai/llm/<llm_id>/validate")
    def validate_llm(llm_id: str) -> Any:
        result = store.validate_llm(llm_id)
        return ok(**result)

    @app.get("/ai/llm/stats")
    def llm_stats() -> Any:
        return ok(stats=store.llm_stats(query_csv("aiLlmId")))


def _register_policies(app: Flask, store: Store) -> None:
    @app.post("/policy")
    def create_policy() -> Any:
        body = json_body()
        policy = store.create_policy(
            body["orgId"],
            body["name"],
            body["content"],
            body["riskType"],
            body["actionType"],
            as_str(body, "workspaceId"),
            as_str(body, "repoId"),
        )
        return ok(policy=policy)

    @app.get("/policy")
    def list_policies() -> Any:
        org_id = query("orgId") or ""  # required by the contract
        policies = store.list_policies(org_id, query("workspaceId"), query("repoId"))
        return ok(policies=policies)

    @app.get("/policy/<policy_id>")
    def get_policy(policy_id: str) -> Any:
        return ok(policy=store.get_policy(policy_id))

    @app.put("/policy/<policy_id>")
    def update_policy(policy_id: str) -> Any:
        body = json_body()
        fields = {
            "name": "name",
            "content": "content",
            "riskType": "risk_type",
            "actionType": "action_type",
        }
        changes = {target: body[field] for field, target in fields.items() if field in body}
        return ok(policy=store.update_policy(policy_id, changes))

    @app.delete("/policy/<policy_id>")
    def delete_policy(policy_id: str) -> Any:
        store.delete_policy(policy_id)
        return ok(message="Policy deleted")
