"""The ``/_emulator/`` admin API: faults, request log, counters, quotas, nodes, reset."""

from __future__ import annotations

from datetime import UTC, datetime


def test_faults_admin_round_trip(api):
    body = {"seed": 42, "rules": [{"action": "throttle", "path": "/bucket", "count": 1}]}
    snapshot = api.ok(api.http.put("/_emulator/faults", json=body))
    assert snapshot["seed"] == 42 and snapshot["rules"][0]["action"] == "throttle"
    assert api.http.get("/bucket").status_code == 429
    assert api.http.get("/bucket").status_code == 200
    rule = api.ok(api.http.get("/_emulator/faults"))["rules"][0]
    assert (rule["seen"], rule["fired"]) == (1, 1)

    added = api.ok(api.http.post("/_emulator/faults", json={"action": "error", "path": "/repo"}))
    assert [r["action"] for r in added["rules"]] == ["throttle", "error"]
    api.fail(api.http.get("/repo"), 500)
    assert api.ok(api.http.delete("/_emulator/faults"))["rules"] == []
    api.ok(api.http.get("/repo"))


def test_faults_admin_refuses_bad_rules(api):
    message = api.fail(api.http.put("/_emulator/faults", json=[{"action": "boom"}]), 400)["message"]
    assert "boom" in message
    api.fail(api.http.put("/_emulator/faults", json={"rules": "nope"}), 400)


def test_request_log_and_counters(api, faults):
    workspace_id = api.workspace()
    key = {"repoId": workspace_id, "name": "k", "accessType": "READ"}
    api.http.post(f"/repo/{workspace_id}/apikey", json=key)  # no such repo: 404
    faults.set_rules([{"action": "throttle", "count": 1}])
    api.http.get("/bucket", params={"workspaceId": workspace_id})
    api.http.get("/_emulator/faults")

    entries = api.ok(api.http.get("/_emulator/requests"))["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/workspace", 201),
        ("POST", f"/repo/{workspace_id}/apikey", 404),
        ("GET", "/bucket", 429),
    ]
    assert set(entries[0]) == {"at", "service", "method", "path", "status", "durationMs", "fault"}
    assert entries[2]["fault"] == "throttle" and entries[0]["fault"] is None
    assert workspace_id not in str(entries[2])  # no query string

    counters = api.ok(api.http.get("/_emulator/counters"))
    assert counters["counters"] == {
        "GET /bucket": 1,
        "POST /repo/{repoId}/apikey": 1,
        "POST /workspace": 1,
    }
    assert counters["total"] == 3
    assert len(api.ok(api.http.get("/_emulator/requests", params={"limit": 1}))["requests"]) == 1
    api.ok(api.http.delete("/_emulator/requests"))
    assert api.ok(api.http.get("/_emulator/counters"))["counters"] == {}


def test_quotas_admin(api):
    quotas = api.ok(api.http.get("/_emulator/quotas"))["quotas"]
    assert quotas["buckets"] is None
    updated = api.ok(api.http.put("/_emulator/quotas", json={"workspaces": 1, "repos": 3}))
    assert updated["quotas"]["workspaces"] == 1 and updated["quotas"]["repos"] == 3
    api.workspace()
    refused = api.fail(api.http.post("/workspace", json={"name": "two"}), 403)
    assert refused["error_code"] == "QUOTA_EXCEEDED"
    api.fail(api.http.put("/_emulator/quotas", json={"unicorns": 1}), 400)
    api.fail(api.http.put("/_emulator/quotas", json={"repos": -1}), 400)
    api.ok(api.http.put("/_emulator/quotas", json={"workspaces": None}))
    api.workspace()


def test_nodes_admin(api):
    api.store.set_node("s3-us-east-1-aws", "http://127.0.0.1:1", "us-east-1", "aws", 5, "ONLINE")
    node = api.ok(
        api.http.put(
            "/_emulator/nodes/s3-us-east-1-aws", json={"latencyMs": 80, "status": "OFFLINE"}
        )
    )["node"]
    assert (node["latency_ms"], node["status"]) == (80, "OFFLINE")
    assert api.ok(api.http.get("/_emulator/nodes"))["nodes"][0]["latency_ms"] == 80
    api.fail(api.http.put("/_emulator/nodes/s3-us-east-1-aws", json={"status": "SLEEPY"}), 400)
    api.fail(api.http.put("/_emulator/nodes/missing", json={"latency_ms": 1}), 404)


def test_traffic_and_ai_usage_admin(api):
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id)
    repo_id = api.repo(workspace_id, [{"bucketId": bucket_id, "folder": "", "master": True}])
    traffic = {
        "repoId": repo_id,
        "bucketId": bucket_id,
        "host": "h",
        "uploadBytes": 5,
        "downloadBytes": 2,
        "sizeChange": 5,
        "latencyMs": 3,
        "at": "2026-01-02T03:04:05Z",
    }
    api.ok(api.http.post("/_emulator/traffic", json=traffic))
    (row,) = api.ok(api.http.get("/stats/minute"))["data"]
    minute = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert row["timestamp"] == minute.timestamp() * 1000 and row["upl_bytes"] == "5"
    usage = {"repoId": repo_id, "tokensIn": 3, "tokensOut": 4, "llmModel": "m", "block": True}
    api.ok(api.http.post("/_emulator/ai-usage", json=usage))
    (ai,) = api.ok(api.http.get("/aistats/daily"))["data"]
    assert ai["tokensIn"] == "3" and ai["numBlocks"] == 1


def test_reset_forgets_state_but_keeps_identity(api, faults):
    org_id = api.store.org_id
    api.workspace()
    faults.set_rules([{"action": "latency", "latency_ms": 1}])
    api.ok(api.http.put("/_emulator/quotas", json={"buckets": 2}))
    api.ok(api.http.post("/_emulator/reset"))
    assert api.ok(api.http.get("/_emulator/requests"))["requests"] == []
    assert api.ok(api.http.get("/workspace"))["workspaces"] == []
    assert api.ok(api.http.get("/_emulator/faults"))["rules"] == []
    assert api.ok(api.http.get("/_emulator/quotas"))["quotas"]["buckets"] is None
    assert api.ok(api.http.get("/user/profile"))["data"]["orgId"] == org_id
    info = api.ok(api.http.get("/_emulator/info"))
    assert info["orgId"] == org_id and info["dataPath"] == ":memory:"
