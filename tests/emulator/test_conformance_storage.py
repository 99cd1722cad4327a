"""Conformance: provider API keys and buckets (flashback-api.md sections 4, 5 and 16)."""

from __future__ import annotations

import uuid

import pytest

# A provider key created with region and description: endpoint, tenantId and subscriptionId
# are absent (optional, not nullable), never null.
PROVIDER_KEY_FIELDS = {
    "id",
    "key",
    "region",
    "provider",
    "description",
    "createdAt",
    "bucket_count",
    "aillm_count",
}
# A bucket with inline credentials and region: endpoint, projectId, walletAddress and apiKeyId
# are absent (optional, not nullable), never null.
BUCKET_FIELDS = {
    "id",
    "name",
    "bucket",
    "storageType",
    "key",
    "secret",
    "region",
    "status",
    "createdAt",
    "workspaceId",
    "repos",
    "lastStatusAt",
}


def bucket_body(workspace_id: str, name: str = "b", **extra: object) -> dict[str, object]:
    """A bucket create body with every field the contract requires (inline credentials)."""
    body = {
        "name": name,
        "bucket": f"real-{name}",
        "storageType": "S3",
        "workspaceId": workspace_id,
        "key": "k",
        "secret": "s",
        "region": "us-east-1",
    }
    return {**body, **extra}


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
    moved = api.http.put(f"/apikeys/{key_id}", json={"workspaceId": api.workspace()})
    assert api.fail(moved, 400)["message"] == "Invalid request: body: unknown field workspaceId"
    assert api.ok(api.http.get("/apikeys", params={"workspaceId": workspace_id}))["apiKeys"]


def test_provider_key_update_with_nulls_is_refused(api):
    """fbplan used to send null for the Azure-only fields it did not set; the contract types
    them optional (absent), not nullable, so the old payload is a 400 naming each field."""
    key_id = api.provider_key(api.workspace(), region="us-east-1")
    old = {
        "key": "AKIAEXAMPLE",
        "secret": "rotated",
        "endpoint": None,
        "region": "eu-central-1",
        "tenantId": None,
        "subscriptionId": None,
        "provider": "AWS",
    }
    message = api.fail(api.http.put(f"/apikeys/{key_id}", json=old), 400)["message"]
    for field in ("endpoint", "tenantId", "subscriptionId"):
        assert f"body.{field}: must be a string, not null" in message
    (key,) = api.ok(api.http.get("/apikeys"))["apiKeys"]
    assert key["region"] == "us-east-1"
    fixed = {k: v for k, v in old.items() if v is not None}
    api.ok(api.http.put(f"/apikeys/{key_id}", json=fixed))
    (key,) = api.ok(api.http.get("/apikeys"))["apiKeys"]
    assert key["region"] == "eu-central-1" and "endpoint" not in key


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


@pytest.mark.parametrize("given", ["S3", "GCS", "BLOB"])
def test_bucket_storage_type_spellings(api, given):
    workspace_id = api.workspace()
    api.bucket(workspace_id, storageType=given)
    (bucket,) = api.ok(api.http.get("/bucket"))["buckets"]
    assert bucket["storageType"] == given


@pytest.mark.parametrize("bad", ["AZURE", "s3", "AZURE_BLOB", "FTP"])
def test_bucket_unknown_storage_type_is_400(api, bad):
    """The contract sends [C]'s BLOB; [D]'s create-page AZURE is refused like any other."""
    response = api.http.post("/bucket", json=bucket_body(api.workspace(), storageType=bad))
    message = api.fail(response, 400)["message"]
    assert message == (
        f'Invalid request: body.storageType: is "{bad}"; expected one of "S3", "GCS", "BLOB"'
    )
    assert api.ok(api.http.get("/bucket"))["buckets"] == []


def test_bucket_needs_credentials_and_fields(api):
    workspace_id = api.workspace()
    body = bucket_body(workspace_id)
    no_credentials = {k: v for k, v in body.items() if k not in ("key", "secret")}
    message = api.fail(api.http.post("/bucket", json=no_credentials), 400)["message"]
    assert "key: is required" in message and "apiKeyUuid: is required" in message
    only_key = {k: v for k, v in body.items() if k != "secret"}
    assert (
        "secret: is required" in api.fail(api.http.post("/bucket", json=only_key), 400)["message"]
    )
    for missing in ("name", "bucket", "storageType", "workspaceId", "region"):
        partial = {k: v for k, v in body.items() if k != missing}
        response = api.http.post("/bucket", json=partial)
        assert api.fail(response, 400)["message"] == (
            f"Invalid request: body.{missing}: is required"
        )
    unknown_key = {**no_credentials, "apiKeyUuid": str(uuid.uuid4())}
    assert "apiKeyUuid" in api.fail(api.http.post("/bucket", json=unknown_key), 400)["message"]
    missing_ws = {**body, "workspaceId": str(uuid.uuid4())}
    api.fail(api.http.post("/bucket", json=missing_ws), 404)
    assert api.ok(api.http.get("/bucket"))["buckets"] == []


def test_bucket_names_unique_in_org_case_sensitive_and_free_after_delete(api):
    first, second = api.workspace(), api.workspace()
    bucket_id = api.bucket(first, name="media", bucket="real-1")
    response = api.http.post("/bucket", json=bucket_body(second, "media", bucket="real-2"))
    assert "already used" in api.fail(response, 400)["message"]
    api.bucket(second, name="Media", bucket="real-3")
    api.ok(api.http.delete(f"/bucket/{bucket_id}"))
    api.bucket(second, name="media", bucket="real-1")


def test_real_bucket_name_is_unique(api):
    workspace_id = api.workspace()
    api.bucket(workspace_id, name="a", bucket="shared")
    response = api.http.post("/bucket", json=bucket_body(workspace_id, "b", bucket="shared"))
    assert "shared" in api.fail(response, 400)["message"]


def test_bucket_update_full_body_keeps_what_it_leaves_out(api):
    """The contract's update body is the full create body ([C]), with key, secret and region
    optional: a field left out keeps its value, so the secret survives a rename."""
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id, name="media")
    before = api.ok(api.http.get("/bucket"))["buckets"][0]
    required = {
        "name": "media",
        "bucket": before["bucket"],
        "storageType": "S3",
        "workspaceId": workspace_id,
    }
    moved = {**required, "region": "eu-central-1"}
    answer = api.ok(api.http.put(f"/bucket/{bucket_id}", json=moved))
    assert answer["bucketId"] == bucket_id and "status" in answer and "latency_ms" in answer
    after = api.ok(api.http.get("/bucket"))["buckets"][0]
    assert after["region"] == "eu-central-1" and after["name"] == "media"
    assert after["secret"] == before["secret"] and after["key"] == before["key"]

    partial = api.fail(api.http.put(f"/bucket/{bucket_id}", json={"region": "x"}), 400)
    for field in required:
        assert f"body.{field}: is required" in partial["message"]

    full = {
        "name": "media-2",
        "bucket": "real-media",
        "storageType": "BLOB",
        "workspaceId": workspace_id,
        "key": "AKIANEW",
        "secret": "rotated",
        "region": "us-east-1",
    }
    api.ok(api.http.put(f"/bucket/{bucket_id}", json=full))
    after = api.ok(api.http.get("/bucket"))["buckets"][0]
    assert (after["name"], after["storageType"], after["key"]) == ("media-2", "BLOB", "AKIANEW")
    assert after["secret"] != before["secret"]
    other = {**full, "workspaceId": api.workspace()}
    assert (
        "workspaceId" in api.fail(api.http.put(f"/bucket/{bucket_id}", json=other), 400)["message"]
    )
    nfs = api.fail(api.http.put(f"/bucket/{bucket_id}", json={**full, "storageType": "NFS"}), 400)
    assert 'body.storageType: is "NFS"' in nfs["message"]
    api.fail(api.http.put(f"/bucket/{uuid.uuid4()}", json=full), 404)


def test_bucket_switches_to_a_provider_key(api):
    workspace_id = api.workspace()
    bucket_id = api.bucket(workspace_id)
    key_id = api.provider_key(workspace_id)
    before = api.ok(api.http.get("/bucket"))["buckets"][0]
    body = {field: before[field] for field in ("name", "bucket", "storageType", "workspaceId")}
    api.ok(api.http.put(f"/bucket/{bucket_id}", json={**body, "apiKeyUuid": key_id}))
    bucket = api.ok(api.http.get("/bucket"))["buckets"][0]
    assert bucket["apiKeyId"] == key_id
    assert "key" not in bucket and "secret" not in bucket  # dropped, absent rather than null


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
    bucket_id = api.bucket(api.workspace(), name="media")
    check = {"bucket": "real-media"}  # the body [C] sends; [D]'s bodiless call is refused
    validated = api.ok(api.http.post(f"/bucket/{bucket_id}/validate", json=check))
    assert validated["status"] == "ONLINE" and validated["latency_ms"] == 12.5
    bodiless = api.fail(api.http.post(f"/bucket/{bucket_id}/validate"), 400)
    assert bodiless["message"] == "Invalid request: body: a JSON body is required"

    status = api.ok(api.http.get(f"/bucket/{bucket_id}/status"))
    assert status["bucketId"] == bucket_id and "success" not in status
    (node,) = status["nodeStatus"]
    assert node["ip"] == "127.0.0.1" and node["latencyMs"] == 12.5
    assert "latency_ms" not in node  # [C]'s spelling only
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
    assert set(row) == expected
    missing = api.fail(api.http.post(f"/bucket/{bucket_id}/stats", json={}), 400)
    assert missing["message"] == "Invalid request: body.day: is required"
    assert (
        "day"
        in api.fail(api.http.post(f"/bucket/{bucket_id}/stats", json={"day": "yesterday"}), 400)[
            "message"
        ]
    )
    api.fail(api.http.get(f"/bucket/{uuid.uuid4()}/status"), 404)

    api.store.update_node("s3-us-east-1-aws", status="OFFLINE")
    api.fail(api.http.post(f"/bucket/{bucket_id}/validate", json=check), 400)


def test_bucket_quota_answers_429(api):
    workspace_id = api.workspace()
    api.ok(api.http.put("/_emulator/quotas", json={"buckets": 1}))
    first = api.bucket(workspace_id)
    body = bucket_body(workspace_id, "b2")
    refused = api.fail(api.http.post("/bucket", json=body), 429)
    assert refused["bucketId"] is None and refused["error_code"] == "QUOTA_EXCEEDED"
    assert refused["message"]
    api.ok(api.http.delete(f"/bucket/{first}"))
    api.ok(api.http.post("/bucket", json=body))
