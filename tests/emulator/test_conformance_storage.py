"""Conformance: provider API keys and buckets (flashback-api.md sections 4, 5 and 16)."""

from __future__ import annotations

import uuid

import pytest

PROVIDER_KEY_FIELDS = {
    "id",
    "key",
    "endpoint",
    "region",
    "tenantId",
    "subscriptionId",
    "provider",
    "description",
    "createdAt",
    "bucket_count",
    "aillm_count",
}
BUCKET_FIELDS = {
    "id",
    "name",
    "bucket",
    "storageType",
    "key",
    "secret",
    "endpoint",
    "region",
    "status",
    "projectId",
    "createdAt",
    "workspaceId",
    "walletAddress",
    "repos",
    "apiKeyId",
    "lastStatusAt",
}


# -- provider keys ----------------------------------------------------------------------------


def test_provider_key_lifecycle_never_shows_the_secret(api):
    workspace_id = api.workspace()
    body = {
        "workspaceId": workspace_id,
        "provider": "AWS",
        "key": "AKIAPUBLIC",
        "secret": "very-secret-value",
        "region": "us-east-1",
        "description": "prod credentials",
    }
    key_id = api.ok(api.http.post("/apikeys", json=body))["apiKeyId"]
    uuid.UUID(key_id, version=4)
    response = api.http.get("/apikeys", params={"workspaceId": workspace_id})
    assert "very-secret-value" not in response.text
    (key,) = api.ok(response)["apiKeys"]
    assert set(key) == PROVIDER_KEY_FIELDS
    assert key["key"] == "AKIAPUBLIC" and key["description"] == "prod credentials"
    assert key["bucket_count"] == 0 and key["aillm_count"] == 0

    api.ok(api.http.put(f"/apikeys/{key_id}", json={"region": "eu-central-1", "secret": "new"}))
    (key,) = api.ok(api.http.get("/apikeys"))["apiKeys"]
    assert key["region"] == "eu-central-1" and key["description"] == "prod credentials"

    api.ok(api.http.delete(f"/apikeys/{key_id}"))
    assert api.ok(api.http.get("/apikeys"))["apiKeys"] == []
    api.fail(api.http.delete(f"/apikeys/{key_id}"), 404)


def test_provider_key_filters(api):
    workspace_a, workspace_b = api.workspace(), api.workspace()
    aws = api.provider_key(workspace_a, "AWS")
    openai = api.provider_key(workspace_a, "OPENAI")
    other = api.provider_key(workspace_b, "GCP")

    def ids(**params):
        return {k["id"] for k in api.ok(api.http.get("/apikeys", params=params))["apiKeys"]}

    assert ids() == {aws, openai, other}
    assert ids(workspaceId=workspace_a) == {aws, openai}
    assert ids(workspaceId="undefined") == {aws, openai, other}
    assert ids(capability=2) == {aws, openai, other}
    assert ids(capability=1) == {aws, other}
    assert ids(provider="OPENAI") == {openai}


def test_provider_key_needs_its_fields_and_cannot_move(api):
    workspace_id = api.workspace()
    for missing in ("workspaceId", "provider", "key", "secret"):
        body = {"workspaceId": workspace_id, "provider": "AWS", "key": "k", "secret": "s"}
        del body[missing]
        assert missing in api.fail(api.http.post("/apikeys", json=body), 400)["message"]
    key_id = api.provider_key(workspace_id)
    api.fail(api.http.put(f"/apikeys/{key_id}", json={"workspaceId": api.workspace()}), 400)


def test_provider_key_in_use_cannot_be_deleted(api):
    workspace_id = api.workspace()
    key_id = api.provider_key(workspace_id)
    bucket_id = api.bucket(workspace_id, apiKeyUuid=key_id, key=None, secret=None)
    llm_id = api.llm(workspace_id, apiKeyUuid=key_id, secret=None)
    (key,) = api.ok(api.http.get("/apikeys"))["apiKeys"]
    assert key["bucket_count"] == 1 and key["aillm_count"] == 1
    assert "in use" in api.fail(api.http.delete(f"/apikeys/{key_id}"), 400)["message"]
    api.ok(api.http.delete(f"/bucket/{bucket_id}"))
    api.fail(api.http.delete(f"/apikeys/{key_id}"), 400)
    api.ok(api.http.delete(f"/ai/llm/{llm_id}"))
    api.ok(api.http.delete(f"/apikeys/{key_id}"))


def test_providers_catalogue(api):
    names = {p["name"] for p in api.ok(api.http.get("/providers"))["providers"]}
    assert {"AWS", "GCP", "AZURE", "OPENAI", "ANTHROPIC"} <= names


# -- buckets ----------------------------------------------------------------------------------


def test_bucket_create_and_list_shape(api):
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id, name="media", secret="top-secret-bucket-key")
    response = api.http.get("/bucket", params={"workspaceId": workspace_id})
    assert "top-secret-bucket-key" not in response.text
    (bucket,) = api.ok(response)["buckets"]
    assert set(bucket) == BUCKET_FIELDS
    assert bucket["id"] == bucket_id and bucket["name"] == "media"
    assert bucket["key"] == "AKIAEXAMPLE"
    assert set(bucket["secret"]) == {"key", "iv", "authTag", "message"}
    assert bucket["status"] == "ONLINE" and bucket["repos"] == []


def test_bucket_list_treats_undefined_as_absent(api):
    api.bucket(api.workspace())
    api.bucket(api.workspace())
    params = {"workspaceId": "undefined", "walletAddress": "undefined"}
    assert len(api.ok(api.http.get("/bucket", params=params))["buckets"]) == 2
    assert len(api.ok(api.http.get("/bucket", params={"workspaceId": ""}))["buckets"]) == 2


def test_bucket_list_filters_on_wallet_address(api):
    workspace_id = api.workspace()
    web3 = api.bucket(workspace_id, walletAddress="0xabc")
    plain = api.bucket(workspace_id)

    def ids(wallet: str) -> list[str]:
        params = {"workspaceId": workspace_id, "walletAddress": wallet}  # as [C] always sends
        return [b["id"] for b in api.ok(api.http.get("/bucket", params=params))["buckets"]]

    assert ids("0xabc") == [web3]
    assert ids("0xdef") == []
    assert ids("undefined") == [web3, plain]


def test_bucket_stats_csv_of_absent_values_is_no_filter(api):
    first, second = api.bucket(api.workspace()), api.bucket(api.workspace())
    for value in ("undefined", "undefined,", ","):
        stats = api.ok(api.http.get("/bucket/stats", params={"bucketId": value}))["stats"]
        assert [s["bucketId"] for s in stats] == [first, second]
    both = api.ok(api.http.get("/bucket/stats", params={"bucketId": f"{first},{second}"}))
    assert [s["bucketId"] for s in both["stats"]] == [first, second]


@pytest.mark.parametrize(
    ("given", "answered"), [("S3", "S3"), ("GCS", "GCS"), ("BLOB", "BLOB"), ("AZURE", "BLOB")]
)
def test_bucket_storage_type_spellings(api, given, answered):
    workspace_id = api.workspace()
    api.bucket(workspace_id, storageType=given)
    (bucket,) = api.ok(api.http.get("/bucket"))["buckets"]
    assert bucket["storageType"] == answered


@pytest.mark.parametrize("bad", ["s3", "AZURE_BLOB", "FTP"])
def test_bucket_unknown_storage_type_is_400(api, bad):
    workspace_id = api.workspace()
    body = {"name": "b", "bucket": "b", "storageType": bad, "workspaceId": workspace_id}
    response = api.http.post("/bucket", json={**body, "key": "k", "secret": "s"})
    assert "storageType" in api.fail(response, 400)["message"]


def test_bucket_needs_credentials_and_fields(api):
    workspace_id = api.workspace()
    body = {"name": "b", "bucket": "real-b", "storageType": "S3", "workspaceId": workspace_id}
    assert "Credentials" in api.fail(api.http.post("/bucket", json=body), 400)["message"]
    for missing in ("name", "bucket", "storageType", "workspaceId"):
        partial = {k: v for k, v in body.items() if k != missing}
        response = api.http.post("/bucket", json={**partial, "key": "k", "secret": "s"})
        assert api.fail(response, 400)["message"] == f"Missing required field: {missing}"
    unknown_key = {**body, "apiKeyUuid": str(uuid.uuid4())}
    assert "apiKeyUuid" in api.fail(api.http.post("/bucket", json=unknown_key), 400)["message"]
    missing_ws = {**body, "workspaceId": str(uuid.uuid4()), "key": "k", "secret": "s"}
    api.fail(api.http.post("/bucket", json=missing_ws), 404)


def test_bucket_names_unique_in_org_case_sensitive_and_free_after_delete(api):
    first, second = api.workspace(), api.workspace()
    bucket_id = api.bucket(first, name="media", bucket="real-1")
    response = api.http.post(
        "/bucket",
        json={
            "name": "media",
            "bucket": "real-2",
            "storageType": "S3",
            "workspaceId": second,
            "key": "k",
            "secret": "s",
        },
    )
    assert "already used" in api.fail(response, 400)["message"]
    api.bucket(second, name="Media", bucket="real-3")
    api.ok(api.http.delete(f"/bucket/{bucket_id}"))
    api.bucket(second, name="media", bucket="real-1")


def test_real_bucket_name_is_unique(api):
    workspace_id = api.workspace()
    api.bucket(workspace_id, name="a", bucket="shared")
    body = {"name": "b", "bucket": "shared", "storageType": "S3", "workspaceId": workspace_id}
    api.fail(api.http.post("/bucket", json={**body, "key": "k", "secret": "s"}), 400)


def test_bucket_update_full_and_partial(api):
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id, name="media")
    before = api.ok(api.http.get("/bucket"))["buckets"][0]
    answer = api.ok(api.http.put(f"/bucket/{bucket_id}", json={"region": "eu-central-1"}))
    assert answer["bucketId"] == bucket_id and "status" in answer and "latency_ms" in answer
    after = api.ok(api.http.get("/bucket"))["buckets"][0]
    assert after["region"] == "eu-central-1" and after["name"] == "media"
    assert after["secret"] == before["secret"]

    full = {
        "name": "media-2",
        "bucket": "real-media",
        "storageType": "AZURE",
        "workspaceId": workspace_id,
        "key": "AKIANEW",
        "secret": "rotated",
        "region": "us-east-1",
    }
    api.ok(api.http.put(f"/bucket/{bucket_id}", json=full))
    after = api.ok(api.http.get("/bucket"))["buckets"][0]
    assert (after["name"], after["storageType"], after["key"]) == ("media-2", "BLOB", "AKIANEW")
    assert after["secret"] != before["secret"]
    api.fail(api.http.put(f"/bucket/{bucket_id}", json={"workspaceId": api.workspace()}), 400)
    api.fail(api.http.put(f"/bucket/{bucket_id}", json={"storageType": "NFS"}), 400)
    api.fail(api.http.put(f"/bucket/{uuid.uuid4()}", json={"region": "x"}), 404)


def test_bucket_switches_to_a_provider_key(api):
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id)
    key_id = api.provider_key(workspace_id)
    api.ok(api.http.put(f"/bucket/{bucket_id}", json={"apiKeyUuid": key_id}))
    bucket = api.ok(api.http.get("/bucket"))["buckets"][0]
    assert bucket["apiKeyId"] == key_id and bucket["key"] is None and bucket["secret"] is None


def test_bucket_delete_is_soft_and_refused_while_attached(api):
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id)
    repo_id = api.repo(workspace_id, [{"bucketId": bucket_id, "folder": "f", "master": True}])
    assert "used by" in api.fail(api.http.delete(f"/bucket/{bucket_id}"), 403)["message"]
    bucket = api.ok(api.http.get("/bucket"))["buckets"][0]
    assert [r["id"] for r in bucket["repos"]] == [repo_id]
    assert set(bucket["repos"][0]) == {"id", "name", "storageType", "createdAt"}
    api.ok(api.http.delete(f"/repo/{repo_id}"))
    assert api.ok(api.http.delete(f"/bucket/{bucket_id}")) == {"success": True}
    assert api.ok(api.http.get("/bucket"))["buckets"] == []
    api.fail(api.http.delete(f"/bucket/{bucket_id}"), 404)


def test_available_buckets_is_a_bare_array_without_mirror_buckets(api):
    workspace_id = api.workspace()
    free = api.bucket(workspace_id)
    mirrored = api.bucket(workspace_id)
    normal = api.bucket(workspace_id)
    api.repo(workspace_id, [{"bucketId": mirrored, "folder": "", "master": True}], mode="MIRROR")
    api.repo(workspace_id, [{"bucketId": normal, "folder": "n", "master": False}])
    response = api.http.get("/bucket/available", params={"workspaceId": workspace_id})
    assert response.status_code == 200
    available = response.json()
    assert isinstance(available, list)
    assert {b["id"] for b in available} == {free, normal}
    assert api.http.get("/bucket/available", params={"workspaceId": api.workspace()}).json() == []


def test_bucket_validate_status_and_node_stats(api):
    api.store.set_node(
        "s3-us-east-1-aws", "http://127.0.0.1:9001", "us-east-1", "aws", 12.5, "ONLINE"
    )
    bucket_id = api.bucket(api.workspace())
    validated = api.ok(api.http.post(f"/bucket/{bucket_id}/validate"))
    assert validated["status"] == "ONLINE" and validated["latency_ms"] == 12.5
    with_body = api.http.post(f"/bucket/{bucket_id}/validate", json={"bucket": "real"})
    api.ok(with_body)

    status = api.ok(api.http.get(f"/bucket/{bucket_id}/status"))
    assert status["bucketId"] == bucket_id and "success" not in status
    (node,) = status["nodeStatus"]
    assert node["ip"] == "127.0.0.1" and node["latencyMs"] == node["latency_ms"] == 12.5
    assert {"region", "version", "status", "lastUpdated"} <= set(node)

    stats = api.ok(api.http.post(f"/bucket/{bucket_id}/stats", json={"day": "2026-05-01"}))
    (row,) = stats["nodeStats"]
    expected = {
        "ip",
        "host",
        "perc_uptime",
        "avg_latency_ms",
        "version",
        "node_status",
        "last_updated",
        "last_latency_ms",
    }
    assert expected <= set(row)
    api.fail(api.http.post(f"/bucket/{bucket_id}/stats", json={}), 400)
    api.fail(api.http.post(f"/bucket/{bucket_id}/stats", json={"day": "yesterday"}), 400)
    api.fail(api.http.get(f"/bucket/{uuid.uuid4()}/status"), 404)

    api.store.update_node("s3-us-east-1-aws", status="OFFLINE")
    api.fail(api.http.post(f"/bucket/{bucket_id}/validate"), 400)


def test_bucket_quota_answers_429(api):
    workspace_id = api.workspace()
    api.ok(api.http.put("/_emulator/quotas", json={"buckets": 1}))
    first = api.bucket(workspace_id)
    body = {"name": "b2", "bucket": "real-b2", "storageType": "S3", "workspaceId": workspace_id}
    response = api.http.post("/bucket", json={**body, "key": "k", "secret": "s"})
    refused = api.fail(response, 429)
    assert refused["bucketId"] is None and refused["error_code"] == "QUOTA_EXCEEDED"
    assert refused["message"]
    api.ok(api.http.delete(f"/bucket/{first}"))
    api.ok(api.http.post("/bucket", json={**body, "key": "k", "secret": "s"}))
