"""The emulator answers every endpoint of the contract in the official client's form.

Each endpoint of `fbplan.contract` is called the way Flashback's official TypeScript client
calls it (its query parameters, such as ``GET /bucket`` with ``walletAddress=undefined``, and
its bodies, such as ``repoId`` in a repo key create), against an emulator holding one of
everything, and the success answer is checked against the contract's strict response schema
(`Endpoint.response_problems`): the client's DTO, closed, in the client's types (issue 8,
point 6). An endpoint added to the contract without a call here fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from fbplan import contract

DAY = datetime(2026, 5, 1, 10, 15, tzinfo=UTC)
ISO_START = "2026-05-01T00:00:00.000Z"  # [C] sends Date.toISOString()
ISO_END = "2026-05-02T00:00:00.000Z"
NODE = "s3-us-east-1-aws"


@dataclass(frozen=True)
class Call:
    """One request as the official client sends it (`body` None: no body at all)."""

    path: str
    query: dict[str, str] | None = None
    body: dict[str, Any] | None = None


@pytest.fixture
def world(api) -> dict[str, str]:
    """One of everything, with traffic, AI usage, a node and a quota, so lists have rows."""
    store = api.store
    store.set_node(NODE, "http://127.0.0.1:9001", "us-east-1", "aws", 4, "ONLINE")
    api.ok(api.http.put("/_emulator/quotas", json={"buckets": 10}))
    ws = api.workspace()
    provider_key = api.provider_key(ws, "AWS", region="us-east-1")
    bucket = api.bucket(ws, name="media")
    spare = api.bucket(ws, name="spare")
    llm = api.llm(ws, name="openai")
    api.ok(api.http.post(f"/ai/llm/{llm}/validate"))
    attachment = {"bucketId": bucket, "folder": "media", "master": True}
    repo = api.repo(ws, [attachment], name="app", repoAiLlms=[{"aiLlmId": llm}])
    key = {"repoId": repo, "name": "rw", "accessType": "WRITE"}
    repo_key = api.ok(api.http.post(f"/repo/{repo}/apikey", json=key))["id"]
    ai_body = {"name": "ai", "aiType": "OPENAI"}
    ai_key = api.ok(api.http.post(f"/repo/{repo}/ai/apikey", json=ai_body))["id"]
    policy = {
        "name": "no-secrets",
        "content": "Never reveal secrets.",
        "riskType": "HIGH",
        "actionType": 1,
        "orgId": store.org_id,
        "workspaceId": ws,
    }
    policy_id = api.ok(api.http.post("/policy", json=policy))["policy"]["id"]
    team = {user["email"]: user["id"] for user in store.org_users()}
    member = {"userId": team["ana@example.com"], "role": "WRITE"}
    api.ok(api.http.post(f"/workspace/{ws}/users", json=member))
    link = {"apiKeyId": provider_key}
    cloud_key = api.ok(api.http.post(f"/repo/{repo}/cloud-apikey", json=link))["id"]
    store.record_storage_traffic(repo, bucket, NODE, 100, 40, 100, 10.0, at=DAY)
    store.record_ai_usage(
        repo_id=repo,
        ai_llm_id=llm,
        ai_key_id=ai_key,
        model="gpt-4o-mini",
        llm_type="OPENAI",
        tokens_in=10,
        tokens_out=20,
        latency_ms=100.0,
        host="openai-us-east-1-aws",
        policy_violation=True,
        alert=True,
        block=False,
        severity="HIGH",
        at=DAY,
    )
    return {
        "org": store.org_id,
        "ws": ws,
        "provider_key": provider_key,
        "bucket": bucket,
        "spare": spare,
        "llm": llm,
        "repo": repo,
        "repo_key": repo_key,
        "ai_key": ai_key,
        "policy": policy_id,
        "member": team["ana@example.com"],
        "newcomer": team["ben@example.com"],
        "cloud_key": cloud_key,
    }


def _bucket_body(w: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "media-2",
        "bucket": "real-media",
        "storageType": "S3",
        "workspaceId": w["ws"],
        "key": "AKIAEXAMPLE",
        "secret": "rotated",
        "region": "us-east-1",
    }


def _repo_body(w: dict[str, str], name: str) -> dict[str, Any]:
    return {
        "name": name,
        "storageType": "S3",
        "mode": "NORMAL",
        "workspaceId": w["ws"],
        "repoBuckets": [{"bucketId": w["bucket"], "folder": "media", "master": True}],
        "repoAiLlms": [{"aiLlmId": w["llm"]}],
    }


def _validate_body(w: dict[str, str], repo_id: str) -> dict[str, Any]:
    attachment = {"bucketId": w["spare"], "folder": "more", "master": False}
    return {"repoId": repo_id, "mode": "NORMAL", "repoBuckets": [attachment]}


CallFor = Callable[[dict[str, str]], Call]

# (method, contract path) -> the official client's request, given the world's ids.
CALLS: dict[tuple[str, str], CallFor] = {
    # identity, organization, nodes, quota
    ("GET", "/"): lambda w: Call("/"),
    ("GET", "/health"): lambda w: Call("/health"),
    ("GET", "/user/profile"): lambda w: Call("/user/profile"),
    ("GET", "/organization/{orgId}"): lambda w: Call(f"/organization/{w['org']}"),
    ("GET", "/organization/{orgId}/nodes"): lambda w: Call(f"/organization/{w['org']}/nodes"),
    ("GET", "/node"): lambda w: Call("/node", {"nodeServices": "1"}),
    ("GET", "/user/quota"): lambda w: Call("/user/quota"),
    ("GET", "/credits/balance"): lambda w: Call("/credits/balance"),
    ("GET", "/credits/rates"): lambda w: Call("/credits/rates"),
    # workspaces
    ("POST", "/workspace"): lambda w: Call("/workspace", body={"name": "team"}),
    ("GET", "/workspace"): lambda w: Call("/workspace"),
    ("GET", "/workspace/{workspaceId}"): lambda w: Call(f"/workspace/{w['ws']}"),
    ("PUT", "/workspace/{workspaceId}"): lambda w: Call(
        f"/workspace/{w['ws']}", body={"name": "renamed"}
    ),
    ("DELETE", "/workspace/{workspaceId}"): lambda w: Call(f"/workspace/{w['fresh_ws']}"),
    # organization users and workspace members
    ("GET", "/organization/users"): lambda w: Call("/organization/users"),
    ("POST", "/workspace/{workspaceId}/users"): lambda w: Call(
        f"/workspace/{w['ws']}/users", body={"userId": w["newcomer"], "role": "READ"}
    ),
    ("PUT", "/workspace/{workspaceId}/users/{userId}"): lambda w: Call(
        f"/workspace/{w['ws']}/users/{w['member']}", body={"role": "ADMIN"}
    ),
    ("DELETE", "/workspace/{workspaceId}/users/{userId}"): lambda w: Call(
        f"/workspace/{w['ws']}/users/{w['member']}"
    ),
    # provider keys
    ("GET", "/providers"): lambda w: Call("/providers"),
    ("GET", "/apikeys"): lambda w: Call("/apikeys", {"workspaceId": w["ws"]}),
    ("POST", "/apikeys"): lambda w: Call(
        "/apikeys",
        body={
            "workspaceId": w["ws"],
            "provider": "AZURE",
            "key": "account",
            "secret": "account-key",
            "tenantId": "tenant",
            "subscriptionId": "subscription",
            "description": "azure",
        },
    ),
    ("PUT", "/apikeys/{apikeyId}"): lambda w: Call(
        f"/apikeys/{w['provider_key']}", body={"secret": "rotated", "region": "eu-central-1"}
    ),
    ("DELETE", "/apikeys/{apikeyId}"): lambda w: Call(f"/apikeys/{w['fresh_key']}"),
    # buckets
    ("POST", "/bucket"): lambda w: Call(
        "/bucket", body={**_bucket_body(w), "name": "new", "bucket": "real-new"}
    ),
    ("GET", "/bucket"): lambda w: Call(
        "/bucket", {"workspaceId": w["ws"], "walletAddress": "undefined"}
    ),
    ("GET", "/bucket/available"): lambda w: Call("/bucket/available", {"workspaceId": w["ws"]}),
    ("PUT", "/bucket/{bucketId}"): lambda w: Call(f"/bucket/{w['bucket']}", body=_bucket_body(w)),
    ("DELETE", "/bucket/{bucketId}"): lambda w: Call(f"/bucket/{w['spare']}"),
    ("POST", "/bucket/{bucketId}/validate"): lambda w: Call(
        f"/bucket/{w['bucket']}/validate", body={"bucket": "real-media"}
    ),
    ("GET", "/bucket/{bucketId}/status"): lambda w: Call(f"/bucket/{w['bucket']}/status"),
    ("POST", "/bucket/{bucketId}/stats"): lambda w: Call(
        f"/bucket/{w['bucket']}/stats", body={"day": ISO_START}
    ),
    ("GET", "/bucket/stats"): lambda w: Call("/bucket/stats", {"bucketId": w["bucket"]}),
    # repositories
    ("POST", "/repo"): lambda w: Call("/repo", body={**_repo_body(w, "new"), "repoBuckets": []}),
    ("GET", "/repo"): lambda w: Call("/repo", {"workspaceId": w["ws"]}),
    ("PUT", "/repo/{repoId}"): lambda w: Call(f"/repo/{w['repo']}", body=_repo_body(w, "app-2")),
    ("DELETE", "/repo/{repoId}"): lambda w: Call(f"/repo/{w['repo']}"),
    ("POST", "/repo/validate"): lambda w: Call(
        "/repo/validate", body=_validate_body(w, "00000000-0000-4000-8000-000000000000")
    ),
    ("POST", "/repo/{repoId}/validate"): lambda w: Call(
        f"/repo/{w['repo']}/validate", body=_validate_body(w, w["repo"])
    ),
    ("GET", "/repo/stats"): lambda w: Call("/repo/stats", {"repoId": w["repo"]}),
    ("POST", "/repo/{repoId}/apikey"): lambda w: Call(
        f"/repo/{w['repo']}/apikey", body={"repoId": w["repo"], "name": "ro", "accessType": "READ"}
    ),
    ("GET", "/repo/{repoId}/apikey"): lambda w: Call(f"/repo/{w['repo']}/apikey"),
    ("PUT", "/repo/{repoId}/apikey/{apikeyId}"): lambda w: Call(
        f"/repo/{w['repo']}/apikey/{w['repo_key']}", body={"name": "rw-2", "accessType": "ADMIN"}
    ),
    ("DELETE", "/repo/{repoId}/apikey/{apikeyId}"): lambda w: Call(
        f"/repo/{w['repo']}/apikey/{w['repo_key']}"
    ),
    ("POST", "/repo/{repoId}/cloud-apikey"): lambda w: Call(
        f"/repo/{w['repo']}/cloud-apikey", body={"apiKeyId": w["fresh_key"]}
    ),
    ("GET", "/repo/{repoId}/cloud-apikey"): lambda w: Call(f"/repo/{w['repo']}/cloud-apikey"),
    ("DELETE", "/repo/{repoId}/cloud-apikey/{repoCloudApiKeyId}"): lambda w: Call(
        f"/repo/{w['repo']}/cloud-apikey/{w['cloud_key']}"
    ),
    ("POST", "/repo/{repoId}/ai/apikey"): lambda w: Call(
        f"/repo/{w['repo']}/ai/apikey", body={"name": "ai-2", "aiType": "ANTHROPIC"}
    ),
    ("GET", "/repo/{repoId}/ai/apikey"): lambda w: Call(f"/repo/{w['repo']}/ai/apikey"),
    ("PUT", "/repo/{repoId}/ai/apikey/{apikeyId}"): lambda w: Call(
        f"/repo/{w['repo']}/ai/apikey/{w['ai_key']}", body={"name": "ai-renamed"}
    ),
    ("DELETE", "/repo/{repoId}/ai/apikey/{apikeyId}"): lambda w: Call(
        f"/repo/{w['repo']}/ai/apikey/{w['ai_key']}"
    ),
    # AI LLM configurations
    ("POST", "/ai/llm"): lambda w: Call(
        "/ai/llm",
        body={
            "name": "claude",
            "aiType": "ANTHROPIC",
            "endpoint": "https://api.anthropic.com/v1",
            "key": None,
            "secret": "sk-ant",
            "workspaceId": w["ws"],
        },
    ),
    ("GET", "/ai/llm"): lambda w: Call("/ai/llm", {"workspaceId": w["ws"]}),
    ("GET", "/ai/llm/available"): lambda w: Call("/ai/llm/available"),
    ("PUT", "/ai/llm/{aiLlmId}"): lambda w: Call(
        f"/ai/llm/{w['llm']}", body={"name": "openai-2", "secret": "sk-rotated"}
    ),
    ("DELETE", "/ai/llm/{aiLlmId}"): lambda w: Call(f"/ai/llm/{w['fresh_llm']}"),
    ("POST", "/ai/llm/{aiLlmId}/validate"): lambda w: Call(f"/ai/llm/{w['llm']}/validate"),
    ("GET", "/ai/llm/stats"): lambda w: Call("/ai/llm/stats", {"aiLlmId": w["llm"]}),
    # policies
    ("POST", "/policy"): lambda w: Call(
        "/policy",
        body={
            "name": "repo-level",
            "content": "Block talk about falcons.",
            "riskType": "MEDIUM",
            "actionType": 2,
            "orgId": w["org"],
            "workspaceId": w["ws"],
            "repoId": w["repo"],
        },
    ),
    ("GET", "/policy"): lambda w: Call("/policy", {"orgId": w["org"], "workspaceId": w["ws"]}),
    ("GET", "/policy/{policyId}"): lambda w: Call(f"/policy/{w['policy']}"),
    ("PUT", "/policy/{policyId}"): lambda w: Call(
        f"/policy/{w['policy']}", body={"riskType": "LOW", "actionType": 0}
    ),
    ("DELETE", "/policy/{policyId}"): lambda w: Call(f"/policy/{w['policy']}"),
    # system events (getSystemEvents): the world's writes, newest first
    ("POST", "/systemevent"): lambda w: Call(
        "/systemevent",
        body={"workspaceId": w["ws"], "from_timestamp": ISO_START, "skip": 0, "take": 50},
    ),
    # statistics
    ("GET", "/stats/daily"): lambda w: Call(
        "/stats/daily",
        {"startDate": ISO_START, "endDate": ISO_END, "repoId": w["repo"], "unitId": w["bucket"]},
    ),
    ("GET", "/stats/minute"): lambda w: Call(
        "/stats/minute", {"startDate": ISO_START, "endDate": ISO_END, "repoId": w["repo"]}
    ),
    ("GET", "/stats/nodes/minute"): lambda w: Call("/stats/nodes/minute", {"unitId": w["bucket"]}),
    ("GET", "/stats/nodes/daily"): lambda w: Call(
        "/stats/nodes/daily", {"unitId": w["bucket"], "startDate": "1052026", "endDate": "2052026"}
    ),
    ("GET", "/aistats/daily"): lambda w: Call(
        "/aistats/daily", {"startDate": ISO_START, "endDate": ISO_END, "repoId": w["repo"]}
    ),
    ("GET", "/aistats/minute"): lambda w: Call(
        "/aistats/minute", {"startDate": ISO_START, "aiLlmId": w["llm"]}
    ),
}

# Lists the emulator answers empty whatever the world holds (it runs no private nodes).
ALWAYS_EMPTY = {("GET", "/organization/{orgId}/nodes")}

ENDPOINTS = sorted(contract.load(), key=lambda e: (e.path, e.method))


def test_every_call_here_is_in_the_contract():
    known = {(e.method, e.path) for e in contract.load()}
    assert set(CALLS) - known == set()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_official_client_call_gets_a_contract_answer(api, world, endpoint):
    call_for = CALLS.get((endpoint.method, endpoint.path))
    assert call_for is not None, f"no official-client call for {endpoint.method} {endpoint.path}"
    world = {**world, **_disposables(api, world)}
    call = call_for(world)
    request = contract.NO_BODY if call.body is None else call.body
    assert endpoint.request_problems(call.query or {}, request) == [], (
        "the call breaks the contract"
    )
    assert endpoint.matches(endpoint.method, call.path)

    response = api.http.request(endpoint.method, call.path, params=call.query, json=call.body)
    assert response.status_code == endpoint.success_status, response.text
    body = response.json()
    assert endpoint.response_problems(response.status_code, body) == []
    if isinstance(body, dict) and "success" in body:
        assert body["success"] is True, body
    if (endpoint.method, endpoint.path) not in ALWAYS_EMPTY:
        assert _rows_present(body), f"an empty list proves nothing: {body}"


def _disposables(api, world: dict[str, str]) -> dict[str, str]:
    """Objects nothing depends on, for the deletes that the world's objects would refuse."""
    return {
        "fresh_ws": api.workspace(),
        "fresh_key": api.provider_key(world["ws"], "GCP"),
        "fresh_llm": api.llm(world["ws"], name="to-delete"),
    }


def _rows_present(body: Any) -> bool:
    """Every list at the top of the answer (or the answer itself) has at least one row."""
    if isinstance(body, list):
        return bool(body)
    if isinstance(body, dict):
        return all(value for value in body.values() if isinstance(value, list))
    return True
