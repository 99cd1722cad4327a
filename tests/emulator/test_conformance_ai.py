"""Conformance: AI LLM configurations and AI policies (sections 10 and 11)."""

from __future__ import annotations

import uuid

import pytest

LLM_FIELDS = {
    "id",
    "orgId",
    "workspaceId",
    "userId",
    "name",
    "aiType",
    "endpoint",
    "key",
    "createdAt",
    "repos",
}
POLICY_FIELDS = {
    "id",
    "orgId",
    "name",
    "content",
    "riskType",
    "actionType",
    "createdBy",
    "createdAt",
    "lastUpdatedBy",
    "lastUpdatedAt",
    "workspaceId",
    "repoId",
    "workspace",
    "repo",
}


@pytest.fixture
def ws(api):
    return api.workspace()


# -- AI LLM configs ---------------------------------------------------------------------------


def test_llm_lifecycle_never_returns_key_or_secret(api, ws):
    body = {
        "name": "openai",
        "aiType": "OPENAI",
        "endpoint": "https://api.openai.com/v1",
        "key": "org-key-123",
        "secret": "sk-provider-secret",
        "workspaceId": ws,
    }
    created = api.ok(api.http.post("/ai/llm", json=body))
    llm_id = created["aiLlmId"]
    listing = api.http.get("/ai/llm", params={"workspaceId": ws})
    assert "sk-provider-secret" not in listing.text and "org-key-123" not in listing.text
    (llm,) = api.ok(listing)["aiLlms"]
    assert set(llm) == LLM_FIELDS  # no apiKeyId: it is absent, not null, without a provider key
    assert llm["key"] is None and llm["orgId"] == api.store.org_id
    assert (llm["name"], llm["aiType"], llm["endpoint"]) == ("openai", "OPENAI", body["endpoint"])

    answer = api.ok(api.http.put(f"/ai/llm/{llm_id}", json={"name": "openai-2"}))
    assert answer["aiLlmId"] == llm_id
    assert api.ok(api.http.get("/ai/llm"))["aiLlms"][0]["name"] == "openai-2"
    assert api.ok(api.http.delete(f"/ai/llm/{llm_id}"))["message"]
    assert api.ok(api.http.get("/ai/llm"))["aiLlms"] == []
    api.fail(api.http.delete(f"/ai/llm/{llm_id}"), 404)


def test_llm_name_unique_per_workspace(api, ws):
    api.llm(ws, name="shared")
    body = {
        "name": "shared",
        "aiType": "OPENAI",
        "endpoint": "https://api.openai.com/v1",
        "secret": "s",
        "workspaceId": ws,
    }
    assert "already used" in api.fail(api.http.post("/ai/llm", json=body), 400)["message"]
    api.llm(api.workspace(), name="shared")
    api.llm(ws, name="Shared")


def test_llm_input_errors(api, ws):
    body = {
        "name": "x",
        "aiType": "OPENAI",
        "endpoint": "https://api.openai.com/v1",
        "secret": "s",
        "workspaceId": ws,
    }

    def refused(payload):
        return api.fail(api.http.post("/ai/llm", json=payload), 400)["message"]

    assert "body.aiType" in refused({**body, "aiType": "COHERE"})
    assert "endpoint" in refused({**body, "endpoint": "not a url"})
    assert "secret" in refused({**body, "secret": None})
    for missing in ("name", "aiType", "workspaceId", "endpoint", "secret"):
        partial = {k: v for k, v in body.items() if k != missing}
        assert missing in refused(partial)
    assert api.ok(api.http.get("/ai/llm"))["aiLlms"] == []
    api.fail(api.http.put(f"/ai/llm/{uuid.uuid4()}", json={"name": "y"}), 404)


@pytest.mark.parametrize(
    ("endpoint", "success"),
    [
        ("https://api.openai.com/v1", True),
        ("http://127.0.0.1:11434/v1", True),
        ("http://localhost:8080", True),
        (None, True),
        ("http://llm.example.com/v1", False),
    ],
)
def test_llm_validate_is_always_200_and_offline(api, ws, endpoint, success):
    if endpoint is None:  # no endpoint at all: the provider's default, through a provider key
        llm_id = api.llm(ws, endpoint=None, secret=None, apiKeyUuid=api.provider_key(ws, "OPENAI"))
    else:
        llm_id = api.llm(ws, endpoint=endpoint)
    response = api.http.post(f"/ai/llm/{llm_id}/validate")
    assert response.status_code == 200
    assert response.json()["success"] is success and response.json()["message"]
    available = api.ok(api.http.get("/ai/llm/available"))["aiLlms"]
    assert [llm["id"] for llm in available] == ([llm_id] if success else [])


def test_llm_available_is_validated_newest_first_and_reset_by_changes(api, ws):
    first, second = api.llm(ws), api.llm(ws)
    for llm_id in (first, second):
        api.ok(api.http.post(f"/ai/llm/{llm_id}/validate"))
    available = api.ok(api.http.get("/ai/llm/available"))["aiLlms"]
    assert [llm["id"] for llm in available] == [second, first]
    api.ok(api.http.put(f"/ai/llm/{first}", json={"secret": "rotated"}))
    available = api.ok(api.http.get("/ai/llm/available"))["aiLlms"]
    assert [llm["id"] for llm in available] == [second]


def test_llm_attached_to_a_repo_cannot_be_deleted(api, ws):
    llm_id = api.llm(ws)
    repo_id = api.repo(ws, repoAiLlms=[{"aiLlmId": llm_id}])
    assert api.ok(api.http.get("/ai/llm"))["aiLlms"][0]["repos"][0]["id"] == repo_id
    api.fail(api.http.delete(f"/ai/llm/{llm_id}"), 403)
    assert [llm["id"] for llm in api.store.repo_llms(repo_id)] == [llm_id]
    api.ok(api.http.delete(f"/repo/{repo_id}"))
    assert api.store.repo_llms(repo_id) == []
    api.ok(api.http.delete(f"/ai/llm/{llm_id}"))


def test_llm_with_provider_key(api, ws):
    key_id = api.provider_key(ws, "OPENAI")
    llm_id = api.llm(ws, secret=None, apiKeyUuid=key_id)
    assert api.ok(api.http.get("/ai/llm"))["aiLlms"][0]["apiKeyId"] == key_id
    other = api.provider_key(api.workspace(), "OPENAI")
    api.fail(api.http.put(f"/ai/llm/{llm_id}", json={"apiKeyUuid": other}), 400)


# -- policies ---------------------------------------------------------------------------------


def policy_body(api, **scope):
    return {
        "name": api.unique("policy"),
        "content": 'Never mention "project falcon".',
        "riskType": "HIGH",
        "actionType": 2,
        "orgId": api.store.org_id,
        **scope,
    }


def test_policy_scopes_and_listing(api, ws):
    repo_id = api.repo(ws)
    org = api.ok(api.http.post("/policy", json=policy_body(api)))["policy"]
    workspace = api.ok(api.http.post("/policy", json=policy_body(api, workspaceId=ws)))["policy"]
    repo_level = api.ok(
        api.http.post("/policy", json=policy_body(api, workspaceId=ws, repoId=repo_id))
    )["policy"]
    assert set(org) == POLICY_FIELDS
    assert org["workspaceId"] is None and org["repoId"] is None and org["workspace"] is None
    assert workspace["workspace"]["id"] == ws and workspace["repo"] is None
    assert repo_level["repo"]["id"] == repo_id
    assert org["createdBy"]["id"] == api.store.user_id
    assert set(org["createdBy"]) == {"id", "name", "lastName", "email"}

    def ids(**params):
        query = {"orgId": api.store.org_id, **params}
        return [p["id"] for p in api.ok(api.http.get("/policy", params=query))["policies"]]

    assert ids() == [org["id"]]
    assert ids(workspaceId=ws) == [workspace["id"]]
    assert ids(workspaceId=ws, repoId=repo_id) == [repo_level["id"]]
    assert ids(workspaceId="undefined") == [org["id"]]
    applied = [p["id"] for p in api.store.policies_for_repo(repo_id)]
    assert applied == [org["id"], workspace["id"], repo_level["id"]]
    assert {"id", "name", "content", "riskType", "actionType"} <= set(
        api.store.policies_for_repo(repo_id)[0]
    )


def test_policy_requires_org_id(api):
    assert "query.orgId: is required" in api.fail(api.http.get("/policy"), 400)["message"]
    api.fail(api.http.get("/policy", params={"orgId": str(uuid.uuid4())}), 403)
    body = policy_body(api)
    del body["orgId"]
    api.fail(api.http.post("/policy", json=body), 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [("riskType", "CRITICAL"), ("riskType", "low"), ("actionType", 3), ("actionType", "block")],
)
def test_policy_unknown_enums(api, field, value):
    response = api.http.post("/policy", json={**policy_body(api), field: value})
    assert field in api.fail(response, 400)["message"]


def test_policy_scope_checks(api, ws):
    repo_id = api.repo(ws)
    api.fail(api.http.post("/policy", json=policy_body(api, repoId=repo_id)), 400)
    other = api.workspace()
    api.fail(
        api.http.post("/policy", json=policy_body(api, workspaceId=other, repoId=repo_id)), 400
    )
    api.fail(api.http.post("/policy", json=policy_body(api, workspaceId=str(uuid.uuid4()))), 404)
    unknown_repo = policy_body(api, workspaceId=ws, repoId=str(uuid.uuid4()))
    assert "repoId" in api.fail(api.http.post("/policy", json=unknown_repo), 400)["message"]
    api.ok(api.http.delete(f"/repo/{repo_id}"))
    api.fail(api.http.post("/policy", json=policy_body(api, workspaceId=ws, repoId=repo_id)), 400)


def test_policy_get_update_delete(api, ws):
    policy = api.ok(api.http.post("/policy", json=policy_body(api, workspaceId=ws)))["policy"]
    path = f"/policy/{policy['id']}"
    assert api.ok(api.http.get(path))["policy"]["id"] == policy["id"]
    changes = {"name": "renamed", "riskType": "LOW", "actionType": 0, "content": "Be nice."}
    updated = api.ok(api.http.put(path, json=changes))["policy"]
    assert (updated["name"], updated["riskType"], updated["actionType"]) == ("renamed", "LOW", 0)
    assert updated["workspaceId"] == ws
    rescoped = api.fail(api.http.put(path, json={"workspaceId": None}), 400)["message"]
    assert rescoped == "Invalid request: body: unknown field workspaceId"  # scope is fixed
    assert "body.actionType" in api.fail(api.http.put(path, json={"actionType": 7}), 400)["message"]
    assert api.ok(api.http.delete(path))["success"] is True
    api.fail(api.http.get(path), 404)
    api.fail(api.http.delete(path), 404)
    query = {"orgId": api.store.org_id, "workspaceId": ws}
    assert api.ok(api.http.get("/policy", params=query))["policies"] == []


def test_repo_delete_retires_its_policies(api, ws):
    repo_id = api.repo(ws)
    body = policy_body(api, workspaceId=ws, repoId=repo_id)
    policy_id = api.ok(api.http.post("/policy", json=body))["policy"]["id"]
    api.ok(api.http.delete(f"/repo/{repo_id}"))
    api.fail(api.http.get(f"/policy/{policy_id}"), 404)
