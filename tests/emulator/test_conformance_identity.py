"""Conformance: transport rules, identity and workspaces (flashback-api.md sections 1-3)."""

from __future__ import annotations

import uuid

import pytest

MANAGEMENT_CALLS = [
    ("GET", "/user/profile"),
    ("GET", "/workspace"),
    ("POST", "/workspace"),
    ("GET", "/apikeys"),
    ("GET", "/bucket"),
    ("GET", "/bucket/available"),
    ("GET", "/repo"),
    ("POST", "/repo"),
    ("GET", "/ai/llm"),
    ("GET", "/policy"),
    ("GET", "/stats/daily"),
    ("GET", "/aistats/minute"),
    ("GET", "/node"),
    ("GET", "/user/quota"),
    ("GET", "/_emulator/faults"),
    ("POST", "/_emulator/reset"),
]


def test_online_and_health_need_no_token(anonymous):
    for path in ("/", "/health"):
        response = anonymous.get(path)
        assert response.status_code == 200
        assert response.json()["success"] is True


@pytest.mark.parametrize(("method", "path"), MANAGEMENT_CALLS)
def test_every_management_call_needs_the_bearer_token(api, anonymous, method, path):
    body = api.fail(anonymous.request(method, path, json={}), 401)
    assert body["error_code"] == "NO_AUTH_USER"
    assert body["message"]
    wrong = anonymous.request(method, path, headers={"Authorization": "Bearer nope"})
    assert api.fail(wrong, 401)["error_code"] == "NO_AUTH_USER"


def test_profile_gives_the_org_id(api):
    data = api.ok(api.http.get("/user/profile"))["data"]
    assert data["orgId"] == api.store.org_id
    uuid.UUID(data["orgId"], version=4)
    assert data["orgRole"] == 255
    for field in ("id", "name", "lastName", "email", "orgRoleDescription", "orgRoles"):
        assert field in data


def test_unknown_path_and_method_answer_json(api):
    assert "Not Found" in api.fail(api.http.get("/no/such/path"), 404)["message"]
    api.fail(api.http.patch("/workspace"), 405)


def test_body_must_be_a_json_object(api):
    response = api.http.post(
        "/workspace", content=b"[1, 2]", headers={"Content-Type": "application/json"}
    )
    assert "body: must be an object, not an array" in api.fail(response, 400)["message"]
    broken = api.http.post("/workspace", content=b"{not json")
    assert "not valid JSON" in api.fail(broken, 400)["message"]


def test_missing_required_field_is_named(api):
    message = api.fail(api.http.post("/workspace", json={}), 400)["message"]
    assert message == "Invalid request: body.name: is required"


# -- the strict contract: every refusal is a 400 naming the field ------------------------------


def test_unknown_field_is_named(api):
    response = api.http.post("/workspace", json={"name": "team", "region": "eu"})
    assert api.fail(response, 400)["message"] == "Invalid request: body: unknown field region"
    assert api.ok(api.http.get("/workspace"))["workspaces"] == []


def test_wrong_type_is_named(api):
    response = api.http.post("/workspace", json={"name": 7})
    assert api.fail(response, 400)["message"] == (
        "Invalid request: body.name: must be a string, not a number"
    )
    ws = api.workspace()
    attachment = {"bucketId": api.bucket(ws), "folder": "f", "master": "yes"}
    body = {
        "name": "r",
        "storageType": "S3",
        "mode": "NORMAL",
        "workspaceId": ws,
        "repoBuckets": [attachment],
    }
    message = api.fail(api.http.post("/repo", json=body), 400)["message"]
    assert "body.repoBuckets[0].master: must be a boolean, not a string" in message


def test_wrong_enum_value_is_named(api):
    ws = api.workspace()
    response = api.http.post("/repo/x/ai/apikey", json={"name": "k", "aiType": "MISTRAL"})
    message = api.fail(response, 400)["message"]
    assert message.startswith('Invalid request: body.aiType: is "MISTRAL"; expected one of')
    policy = {
        "name": "p",
        "content": "c",
        "riskType": "LOW",
        "actionType": 3,
        "orgId": api.store.org_id,
        "workspaceId": ws,
    }
    message = api.fail(api.http.post("/policy", json=policy), 400)["message"]
    assert message == "Invalid request: body.actionType: is 3; expected one of 0, 1, 2"


def test_unknown_and_repeated_query_parameters_are_named(api):
    unknown = api.fail(api.http.get("/workspace", params={"page": "2"}), 400)
    assert unknown["message"] == "Invalid request: query: unknown query parameter page"
    repeated = api.http.get("/repo?repoId=a&repoId=b")
    assert "query.repoId: is repeated" in api.fail(repeated, 400)["message"]


def test_workspace_lifecycle(api):
    created = api.ok(api.http.post("/workspace", json={"name": "team"}), 201)["workspace"]
    assert set(created) == {"id", "name", "orgId"}
    assert created["orgId"] == api.store.org_id
    workspace_id = created["id"]

    listed = api.ok(api.http.get("/workspace"))["workspaces"]
    assert [w["id"] for w in listed] == [workspace_id]
    user = listed[0]["users"][0]
    assert user["role"] == "ADMIN"
    assert set(user["user"]) == {"id", "name", "lastName", "email", "orgRole"}

    one = api.ok(api.http.get(f"/workspace/{workspace_id}"))["workspace"]
    assert one["name"] == "team" and one["users"]

    renamed = api.ok(api.http.put(f"/workspace/{workspace_id}", json={"name": "team-2"}))
    assert renamed["workspace"]["name"] == "team-2"

    assert api.ok(api.http.delete(f"/workspace/{workspace_id}")) == {"success": True}
    api.fail(api.http.get(f"/workspace/{workspace_id}"), 404)
    api.fail(api.http.delete(f"/workspace/{workspace_id}"), 404)
    assert api.ok(api.http.get("/workspace"))["workspaces"] == []


def test_unknown_workspace_is_404(api):
    api.fail(api.http.get(f"/workspace/{uuid.uuid4()}"), 404)
    api.fail(api.http.put(f"/workspace/{uuid.uuid4()}", json={"name": "x"}), 404)


def test_workspace_with_buckets_or_repos_cannot_be_deleted(api):
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id)
    assert "buckets" in api.fail(api.http.delete(f"/workspace/{workspace_id}"), 400)["message"]
    api.ok(api.http.delete(f"/bucket/{bucket_id}"))
    repo_id = api.repo(workspace_id)
    api.fail(api.http.delete(f"/workspace/{workspace_id}"), 400)
    api.ok(api.http.delete(f"/repo/{repo_id}"))
    api.ok(api.http.delete(f"/workspace/{workspace_id}"))


def test_deleting_a_workspace_removes_its_keys_llms_and_policies(api):
    workspace_id = api.workspace()
    api.provider_key(workspace_id)
    api.llm(workspace_id)
    policy = {
        "name": "p",
        "content": "c",
        "riskType": "LOW",
        "actionType": 0,
        "orgId": api.store.org_id,
        "workspaceId": workspace_id,
    }
    policy_id = api.ok(api.http.post("/policy", json=policy))["policy"]["id"]
    api.ok(api.http.delete(f"/workspace/{workspace_id}"))
    assert api.ok(api.http.get("/apikeys"))["apiKeys"] == []
    assert api.ok(api.http.get("/ai/llm"))["aiLlms"] == []
    api.fail(api.http.get(f"/policy/{policy_id}"), 404)


def test_workspace_names_may_repeat(api):
    api.workspace("same")
    api.workspace("same")
    assert len(api.ok(api.http.get("/workspace"))["workspaces"]) == 2


def test_organization_endpoint(api):
    org = api.ok(api.http.get(f"/organization/{api.store.org_id}"))["data"]
    assert org["id"] == api.store.org_id
    api.fail(api.http.get(f"/organization/{uuid.uuid4()}"), 403)


def test_delete_semantics_follow_section_17_row_24(api):
    """Provider keys and AI LLMs are deleted for good; buckets, repos, workspaces, policies
    and repo AI keys are soft-deleted (the row stays, with ``deleted_at`` set)."""
    workspace_id = api.workspace()
    key_id = api.provider_key(workspace_id)
    llm_id = api.llm(workspace_id)
    bucket_id = api.bucket(workspace_id)
    repo_id = api.repo(workspace_id)
    ai_key = api.ok(
        api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "ai", "aiType": "OPENAI"})
    )["id"]
    policy = {
        "name": "p",
        "content": "c",
        "riskType": "LOW",
        "actionType": 0,
        "orgId": api.store.org_id,
        "workspaceId": workspace_id,
    }
    policy_id = api.ok(api.http.post("/policy", json=policy))["policy"]["id"]
    for path in (
        f"/repo/{repo_id}/ai/apikey/{ai_key}",
        f"/policy/{policy_id}",
        f"/repo/{repo_id}",
        f"/bucket/{bucket_id}",
        f"/ai/llm/{llm_id}",
        f"/apikeys/{key_id}",
        f"/workspace/{workspace_id}",
    ):
        api.ok(api.http.delete(path))
        api.fail(api.http.delete(path), 404)

    def row(table: str, row_id: str) -> object:
        return api.store._one(f"SELECT * FROM {table} WHERE id = ?", (row_id,))

    assert row("provider_keys", key_id) is None
    assert row("ai_llms", llm_id) is None
    for table, row_id in (
        ("buckets", bucket_id),
        ("repos", repo_id),
        ("workspaces", workspace_id),
        ("policies", policy_id),
        ("repo_ai_keys", ai_key),
    ):
        soft = row(table, row_id)
        assert soft is not None and soft["deleted_at"], table
