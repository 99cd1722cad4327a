"""Conformance: statistics, nodes and quota (sections 13-15)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

T0 = datetime(2026, 5, 1, 10, 15, 20, tzinfo=UTC)
T1 = datetime(2026, 5, 1, 10, 15, 50, tzinfo=UTC)
T2 = datetime(2026, 5, 2, 8, 0, 0, tzinfo=UTC)


def epoch_ms(*moment: int) -> int:
    """A UTC moment as the official client types stats timestamps: epoch milliseconds."""
    return int(datetime(*moment, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def setup(api):
    """A repo with two buckets, traffic on both, an LLM and AI usage."""
    ws = api.workspace()
    b1, b2 = api.bucket(ws), api.bucket(ws)
    llm_id = api.llm(ws)
    repo_id = api.repo(
        ws,
        [
            {"bucketId": b1, "folder": "a", "master": True},
            {"bucketId": b2, "folder": "b", "master": False},
        ],
        repoAiLlms=[{"aiLlmId": llm_id}],
    )
    key = api.ok(
        api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "k", "aiType": "OPENAI"})
    )
    store = api.store
    store.record_storage_traffic(repo_id, b1, "s3-us-east-1-aws", 100, 0, 100, 10.0, at=T0)
    store.record_storage_traffic(repo_id, b1, "s3-us-east-1-aws", 0, 40, 0, 20.0, at=T1)
    store.record_storage_traffic(repo_id, b2, "s3-eu-central-1-gcp", 7, 0, 7, 5.0, at=T2)
    usage = dict(repo_id=repo_id, ai_llm_id=llm_id, ai_key_id=key["id"], model="gpt-4o-mini")
    store.record_ai_usage(
        **usage,
        llm_type="OPENAI",
        tokens_in=10,
        tokens_out=20,
        latency_ms=100.0,
        host="openai-us-east-1-aws",
        policy_violation=False,
        alert=False,
        block=False,
        severity=None,
        at=T0,
    )
    store.record_ai_usage(
        **usage,
        llm_type="OPENAI",
        tokens_in=5,
        tokens_out=0,
        latency_ms=50.0,
        host="openai-us-east-1-aws",
        policy_violation=True,
        alert=True,
        block=True,
        severity="HIGH",
        at=T1,
    )
    return {"ws": ws, "b1": b1, "b2": b2, "repo": repo_id, "llm": llm_id, "key": key["id"]}


def test_stats_minute_rows(api, setup):
    data = api.ok(api.http.get("/stats/minute"))["data"]
    assert len(data) == 2
    first = data[0]
    assert first == {  # [C] StatsData: numeric timestamp, one bucket key (unitId)
        "timestamp": epoch_ms(2026, 5, 1, 10, 15),
        "repoId": setup["repo"],
        "unitId": setup["b1"],
        "upl_bytes": "100",
        "dwl_bytes": "40",
        "size_change": "100",
        "latency_ms": 15.0,
        "host": "s3-us-east-1-aws",
    }


def test_stats_daily_filters_and_ranges(api, setup):
    def rows(**params):
        return api.ok(api.http.get("/stats/daily", params=params))["data"]

    assert [r["timestamp"] for r in rows()] == [epoch_ms(2026, 5, 1), epoch_ms(2026, 5, 2)]
    assert len(rows(bucketId=setup["b2"])) == 1
    assert len(rows(unitId=setup["b1"])) == 1
    assert len(rows(hosts="s3-us-east-1-aws,other")) == 1
    assert len(rows(repoId=setup["repo"])) == 2
    assert rows(repoId="00000000-0000-4000-8000-000000000000") == []
    assert len(rows(startDate="2026-05-02", endDate="2026-05-02")) == 1
    assert len(rows(startDate="2026-05-01T00:00:00Z", endDate="2026-05-01")) == 1
    assert len(rows(startDate="undefined")) == 2
    assert len(rows(repoId="undefined,", bucketId=",", hosts="undefined")) == 2
    assert len(rows(repoId=f"{setup['repo']},00000000-0000-4000-8000-000000000000")) == 2
    bad_date = api.fail(api.http.get("/stats/daily", params={"startDate": "yesterday"}), 400)
    assert "query.startDate" in bad_date["message"]


def test_repo_and_bucket_totals_are_strings(api, setup):
    (repo,) = api.ok(api.http.get("/repo/stats", params={"repoId": setup["repo"]}))["stats"]
    assert repo == {
        "repoId": setup["repo"],
        "totalUploadBytes": "107",
        "totalDownloadBytes": "40",
        "totalSizeChange": "107",
    }
    stats = api.ok(api.http.get("/bucket/stats"))["stats"]
    assert stats[0] == {
        "bucketId": setup["b1"],
        "totalCount": "2",
        "totalUploadBytes": "100",
        "totalDownloadBytes": "40",
        "totalSizeChange": "100",
    }
    only = api.ok(api.http.get("/bucket/stats", params={"bucketId": setup["b2"]}))["stats"]
    assert [s["bucketId"] for s in only] == [setup["b2"]]


def test_aistats_rows(api, setup):
    (row,) = api.ok(api.http.get("/aistats/minute"))["data"]
    expected = {
        "timestamp": epoch_ms(2026, 5, 1, 10, 15),
        "repoId": setup["repo"],
        "aiLlmId": setup["llm"],
        "repoAiApiKeyId": setup["key"],
        "tokensIn": "15",
        "tokensOut": "20",
        "llmTokensIn": "15",
        "llmTokensOut": "20",
        "apiCalls": 2,
        "policyViolations": 1,
        "numAlerts": 1,
        "numBlocks": 1,
        "numSeverityLow": 0,
        "numSeverityMedium": 0,
        "numSeverityHigh": 1,
        "latency_ms": 75.0,
        "llmType": "OPENAI",
        "llmModel": "gpt-4o-mini",
        "host": "openai-us-east-1-aws",
    }
    assert {k: row[k] for k in expected} == expected
    assert {"activeConversations", "userUuid", "conversationUuid"} <= set(row)
    # [C] types both uuids as non-null strings; the emulator records neither per call
    assert (row["userUuid"], row["conversationUuid"]) == ("", "")

    def count(**params):
        return len(api.ok(api.http.get("/aistats/daily", params=params))["data"])

    assert count() == 1
    assert count(llmModel="gpt-4o-mini,gpt-4o", llmType="OPENAI") == 1
    assert count(aiLlmId=setup["llm"], repoAiApiKeyId=setup["key"], repoId=setup["repo"]) == 1
    assert count(llmModel="claude") == 0
    assert count(userUuid="someone") == 0
    assert count(startDate="2026-05-02") == 0


def test_llm_stats(api, setup):
    (row,) = api.ok(api.http.get("/ai/llm/stats", params={"aiLlmId": setup["llm"]}))["stats"]
    assert row == {
        "aiLlmId": setup["llm"],
        "totalApiCalls": "2",
        "totalTokensIn": "15",
        "totalTokensOut": "20",
        "totalLlmTokensIn": "15",
        "totalLlmTokensOut": "20",
        "totalPolicyViolations": "1",
        "totalAlerts": "1",
        "totalBlocks": "1",
    }


def test_node_catalogue(api):
    api.store.set_node("s3-us-east-1-aws", "http://127.0.0.1:9001", "us-east-1", "aws", 3, "ONLINE")
    api.store.set_node(
        "openai-us-east-1-aws", "http://127.0.0.1:9002", "us-east-1", "aws", 0, "ONLINE", services=2
    )
    api.fail(api.http.get("/node"), 400)
    api.fail(api.http.get("/node", params={"nodeServices": "storage"}), 400)
    every = api.ok(api.http.get("/node", params={"nodeServices": 0}))
    assert every["total"] == 2
    storage = api.ok(api.http.get("/node", params={"nodeServices": 1}))["data"]
    assert [n["id"] for n in storage] == ["s3-us-east-1-aws"]
    node = storage[0]
    expected = {
        "ip",
        "region",
        "version",
        "status",
        "latencyMs",
        "lastUpdated",
        "url",
        "nodeServices",
    }
    assert expected <= set(node)
    assert (node["ip"], node["url"], node["latencyMs"]) == ("127.0.0.1", "http://127.0.0.1:9001", 3)


def test_node_stats(api, setup):
    api.store.set_node("s3-us-east-1-aws", "http://127.0.0.1:9001", "us-east-1", "aws", 3, "ONLINE")
    api.store.set_node(
        "s3-eu-central-1-gcp", "http://127.0.0.1:9003", "eu-central-1", "gcp", 9, "OFFLINE"
    )
    minute = api.ok(api.http.get("/stats/nodes/minute", params={"bucketId": setup["b1"]}))["data"]
    assert [(r["nodeId"], r["nodeStatus"], r["latency_ms"]) for r in minute] == [
        ("s3-us-east-1-aws", "ONLINE", 3),
        ("s3-eu-central-1-gcp", "OFFLINE", 9),
    ]
    assert minute[0]["unitId"] == setup["b1"] and "bucketId" not in minute[0]
    assert "lastUpdated" in minute[0]

    params = {"bucketId": setup["b1"], "startDate": 30042026, "endDate": 1052026}
    daily = api.ok(api.http.get("/stats/nodes/daily", params=params))["data"]
    assert len(daily) == 4  # two nodes x two days
    assert {r["day"] for r in daily} == {30042026, 1052026}  # ddmmyyyy numbers, as [C] types
    row = daily[0]
    expected = {
        "nodeId",
        "unitId",
        "day",
        "online",
        "latency_ms",
        "endpoint",
        "region",
        "storageType",
        "provider",
        "status",
        "version",
    }
    assert expected == set(row)
    one_day = {"bucketId": setup["b1"], "startDate": 30042026, "endDate": 30042026}
    assert len(api.ok(api.http.get("/stats/nodes/daily", params=one_day))["data"]) == 2
    backwards = {"startDate": 2052026, "endDate": 1052026}
    assert (
        "startDate"
        in api.fail(api.http.get("/stats/nodes/daily", params=backwards), 400)["message"]
    )
    iso = {"startDate": "2026-04-30"}  # the contract takes ddmmyyyy only (open question 19)
    assert (
        "query.startDate"
        in api.fail(api.http.get("/stats/nodes/daily", params=iso), 400)["message"]
    )


def test_user_quota(api):
    api.ok(api.http.put("/_emulator/quotas", json={"buckets": 4, "egressMonthlyBytes": 1000}))
    api.bucket(api.workspace())
    body = api.ok(api.http.get("/user/quota"))
    assert set(body["subscription"]) == {"id", "name", "description"}
    usage = {q["capability"]["code"]: q for q in body["quotaUsage"]}
    assert set(usage) == {"EGRESS_MONTHLY_BYTES", "BUCKETS_COUNT"}  # no quota, no entry
    buckets = usage["BUCKETS_COUNT"]
    assert buckets["usage"] == {"current": 1, "max": 4, "percentage": 25.0}  # [C]: numbers
    assert set(buckets["capability"]) == {"id", "code", "description", "type", "periodType"}
    assert isinstance(buckets["capability"]["id"], str)  # [C] CapabilityInfo.id: string
    assert usage["EGRESS_MONTHLY_BYTES"]["capability"]["periodType"] == "MONTHLY"
