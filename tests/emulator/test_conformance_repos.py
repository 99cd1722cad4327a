"""Conformance: repositories, their rules, storage keys and AI keys (sections 6-8)."""

from __future__ import annotations

import uuid

import pytest

REPO_FIELDS = {
    "id",
    "name",
    "storageType",
    "mode",
    "workspaceId",
    "buckets",
    "aiLlms",
    "apiKeys",
    "aiApiKeys",
    "createdAt",
    "disabled",
}


def attach(bucket_id: str, folder: str = "", master: bool = False) -> dict[str, object]:
    return {"bucketId": bucket_id, "folder": folder, "master": master}


def repo_body(ws: str, name: str = "r", mode: str = "NORMAL") -> dict[str, object]:
    """A repository body with every field the contract requires and no bucket attached."""
    return {"name": name, "storageType": "S3", "mode": mode, "workspaceId": ws, "repoBuckets": []}


def key_body(repo_id: str, name: str = "k", access: str = "READ") -> dict[str, str]:
    """A repository storage key body as the official client sends it (``repoId`` included)."""
    return {"repoId": repo_id, "name": name, "accessType": access}


@pytest.fixture
def ws(api):
    return api.workspace()


# -- create, read, update, delete -------------------------------------------------------------


def test_repo_shape_with_buckets_llms_and_keys(api, ws):
    bucket_id = api.bucket(ws)
    llm_id = api.llm(ws)
    repo_id = api.repo(
        ws,
        [attach(bucket_id, "media", True)],
        name="app",
        repoAiLlms=[{"aiLlmId": llm_id}],
    )
    api.ok(api.http.post(f"/repo/{repo_id}/apikey", json=key_body(repo_id, "rw", "WRITE")))
    api.ok(api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "ai", "aiType": "OPENAI"}))
    repo = api.get_repo(repo_id)
    assert set(repo) == REPO_FIELDS  # no walletAddress: absent, not null, when none was given
    assert (repo["name"], repo["storageType"], repo["mode"]) == ("app", "S3", "NORMAL")
    (item,) = repo["buckets"]
    assert set(item) == {"folder", "master", "bucketId", "bucket"}
    assert (item["folder"], item["master"], item["bucketId"]) == ("media", True, bucket_id)
    assert item["bucket"]["id"] == bucket_id
    (llm,) = repo["aiLlms"]
    assert llm["aiLlmId"] == llm_id and llm["aiLlm"]["id"] == llm_id
    assert llm["aiLlm"]["key"] is None
    assert [k["name"] for k in repo["apiKeys"]] == ["rw"]
    assert [k["name"] for k in repo["aiApiKeys"]] == ["ai"]


def test_repo_list_filters(api, ws):
    other_ws = api.workspace()
    a, b, c = api.repo(ws), api.repo(ws), api.repo(other_ws)

    def ids(**params):
        return [r["id"] for r in api.ok(api.http.get("/repo", params=params))["repos"]]

    assert ids() == [a, b, c]
    assert ids(workspaceId=ws) == [a, b]
    assert ids(repoId=f"{a},{c}") == [a, c]
    assert ids(workspaceId="undefined", repoId="undefined", walletAddress="undefined") == [a, b, c]
    assert ids(repoId="undefined,") == [a, b, c]


def test_repo_list_filters_on_wallet_address(api, ws):
    web3 = api.repo(ws, walletAddress="0xabc")
    plain = api.repo(ws)

    def ids(wallet: str) -> list[str]:
        params = {"workspaceId": ws, "walletAddress": wallet}
        return [r["id"] for r in api.ok(api.http.get("/repo", params=params))["repos"]]

    assert ids("0xabc") == [web3]
    assert ids("0xdef") == []
    assert ids("undefined") == [web3, plain]
    assert api.get_repo(web3)["walletAddress"] == "0xabc"


@pytest.mark.parametrize(
    ("storage_type", "mode"), [("BLOB", "MIRROR"), ("GCS", "NORMAL"), ("S3", "NORMAL")]
)
def test_repo_client_spellings(api, ws, storage_type, mode):
    bucket_id = api.bucket(ws)
    repo_id = api.repo(ws, [attach(bucket_id, master=True)], storageType=storage_type, mode=mode)
    repo = api.get_repo(repo_id)
    assert (repo["storageType"], repo["mode"]) == (storage_type, mode)


@pytest.mark.parametrize(("field", "value"), [("storageType", "AZURE"), ("mode", "BACKUP")])
def test_repo_docs_only_spellings_are_refused(api, ws, field, value):
    """The contract sends the client's spelling (BLOB; NORMAL|MIRROR), which both sources
    accept; the docs' AZURE / BACKUP is refused naming the field, no repository is made."""
    body = {**repo_body(ws), field: value}
    message = api.fail(api.http.post("/repo", json=body), 400)["message"]
    assert f'body.{field}: is "{value}"; expected one of' in message
    assert api.ok(api.http.get("/repo"))["repos"] == []


def test_repo_legacy_repo_units_is_refused(api, ws):
    bucket_id = api.bucket(ws)
    body = {
        "name": "legacy",
        "storageType": "S3",
        "mode": "NORMAL",
        "workspaceId": ws,
        "repoUnits": [{"unitId": bucket_id, "folder": "old", "master": True}],
    }
    message = api.fail(api.http.post("/repo", json=body), 400)["message"]
    assert "body: unknown field repoUnits" in message
    assert "body.repoBuckets: is required" in message
    assert api.ok(api.http.get("/repo"))["repos"] == []


@pytest.mark.parametrize(
    ("field", "value"), [("mode", "STRIPED"), ("storageType", "FTP"), ("mode", "normal")]
)
def test_repo_unknown_enum_is_400(api, ws, field, value):
    body = {**repo_body(ws), field: value}
    message = api.fail(api.http.post("/repo", json=body), 400)["message"]
    assert f"body.{field}: is" in message


def test_repo_missing_fields(api, ws):
    body = repo_body(ws)
    for missing in body:
        partial = {k: v for k, v in body.items() if k != missing}
        response = api.http.post("/repo", json=partial)
        assert api.fail(response, 400)["message"] == (
            f"Invalid request: body.{missing}: is required"
        )
    bad_item = {**body, "repoBuckets": [{"folder": "x", "master": False}]}
    message = api.fail(api.http.post("/repo", json=bad_item), 400)["message"]
    assert "body.repoBuckets[0].bucketId: is required" in message


def test_repo_name_taken_in_org_free_after_delete(api, ws):
    repo_id = api.repo(ws, name="app")
    body = repo_body(api.workspace(), "app")
    refused = api.fail(api.http.post("/repo", json=body), 400)
    assert refused["error_code"] == "NAME_ALREADY_USED" and refused["error_message"]
    api.repo(ws, name="App")
    api.ok(api.http.delete(f"/repo/{repo_id}"))
    api.ok(api.http.post("/repo", json=body))


def test_repo_references_must_exist(api, ws):
    body = repo_body(ws)
    missing_bucket = {**body, "repoBuckets": [attach(str(uuid.uuid4()))]}
    assert api.fail(api.http.post("/repo", json=missing_bucket), 404)["error_code"] == "NOT_FOUND"
    missing_llm = {**body, "repoAiLlms": [{"aiLlmId": str(uuid.uuid4())}]}
    assert api.fail(api.http.post("/repo", json=missing_llm), 404)["error_code"] == "NOT_FOUND"
    other_ws_bucket = {**body, "repoBuckets": [attach(api.bucket(api.workspace()))]}
    api.fail(api.http.post("/repo", json=other_ws_bucket), 404)
    unknown_ws = {**body, "workspaceId": str(uuid.uuid4())}
    assert api.fail(api.http.post("/repo", json=unknown_ws), 404)["error_code"] == "NOT_FOUND"


def test_repo_put_is_full_replacement_keeping_missing_lists(api, ws):
    b1, b2 = api.bucket(ws), api.bucket(ws)
    llm_id = api.llm(ws)
    repo_id = api.repo(ws, [attach(b1, "one", True)], name="app", repoAiLlms=[{"aiLlmId": llm_id}])
    body = {
        **repo_body(ws, "app-2"),
        "storageType": "GCS",
        "repoBuckets": [attach(b1, "one", True)],
    }
    answer = api.ok(api.http.put(f"/repo/{repo_id}", json=body))
    assert answer["repoId"] == repo_id
    repo = api.get_repo(repo_id)
    assert (repo["name"], repo["storageType"]) == ("app-2", "GCS")
    assert [b["bucketId"] for b in repo["buckets"]] == [b1]
    assert [llm["aiLlmId"] for llm in repo["aiLlms"]] == [llm_id]

    replaced = {
        **body,
        "repoBuckets": [attach(b1, "one", True), attach(b2, "two")],
        "repoAiLlms": [],
    }
    api.ok(api.http.put(f"/repo/{repo_id}", json=replaced))
    repo = api.get_repo(repo_id)
    assert [b["bucketId"] for b in repo["buckets"]] == [b1, b2]
    assert repo["aiLlms"] == []

    detached = {**body, "repoBuckets": [attach(b2, "two")]}
    api.ok(api.http.put(f"/repo/{repo_id}", json=detached))  # NORMAL_UNIT_FOLDER_CANNOT_DELETE off
    assert [b["bucketId"] for b in api.get_repo(repo_id)["buckets"]] == [b2]

    for missing in ("name", "storageType", "mode", "workspaceId", "repoBuckets"):
        partial = {k: v for k, v in body.items() if k != missing}
        message = api.fail(api.http.put(f"/repo/{repo_id}", json=partial), 400)["message"]
        assert f"body.{missing}: is required" in message
    moved = {**body, "workspaceId": api.workspace()}
    assert "workspaceId" in api.fail(api.http.put(f"/repo/{repo_id}", json=moved), 400)["message"]
    assert [b["bucketId"] for b in api.get_repo(repo_id)["buckets"]] == [b2]
    missing_repo = api.fail(api.http.put(f"/repo/{uuid.uuid4()}", json=body), 404)
    assert missing_repo["error_code"] == "NOT_FOUND"


def test_repo_delete_is_soft(api, ws):
    repo_id = api.repo(ws)
    assert api.ok(api.http.delete(f"/repo/{repo_id}")) == {"success": True}
    assert api.ok(api.http.get("/repo"))["repos"] == []
    api.fail(api.http.delete(f"/repo/{repo_id}"), 404)
    api.fail(api.http.get(f"/repo/{repo_id}/apikey"), 404)


def test_repo_quota_is_403_quota_exceeded(api, ws):
    api.ok(api.http.put("/_emulator/quotas", json={"repos": 1}))
    api.repo(ws)
    refused = api.fail(api.http.post("/repo", json=repo_body(ws, "second")), 403)
    assert refused["error_code"] == "QUOTA_EXCEEDED"


# -- attachment rules -------------------------------------------------------------------------


def test_mirror_master_rules(api, ws):
    b1, b2 = api.bucket(ws), api.bucket(ws)
    body = {"name": "m", "storageType": "S3", "mode": "MIRROR", "workspaceId": ws}

    def code(buckets):
        response = api.http.post("/repo", json={**body, "repoBuckets": buckets})
        return api.fail(response, 400)["error_code"]

    assert code([attach(b1), attach(b2)]) == "MIRROR_MASTER_UNIT_MISSING"
    assert code([]) == "MIRROR_MASTER_UNIT_MISSING"
    assert (
        code([attach(b1, master=True), attach(b2, master=True)])
        == "MIRROR_MASTER_UNIT_COUNT_INVALID"
    )
    api.repo(ws, [attach(b1, master=True), attach(b2)], mode="MIRROR")


def test_mirror_buckets_are_exclusive(api, ws):
    shared, other = api.bucket(ws), api.bucket(ws)
    api.repo(ws, [attach(shared, "n")])
    body = {"name": "m", "storageType": "S3", "mode": "MIRROR", "workspaceId": ws}
    mirror = {**body, "repoBuckets": [attach(shared, master=True)]}
    refused = api.fail(api.http.post("/repo", json=mirror), 400)
    assert refused["error_code"] == "MIRROR_UNIT_ALREADY_IN_OTHER_REPO"
    api.repo(ws, [attach(other, master=True)], mode="MIRROR")
    normal = {**body, "mode": "NORMAL", "repoBuckets": [attach(other, "x")]}
    assert api.fail(api.http.post("/repo", json=normal), 400)["error_code"] == (
        "MIRROR_UNIT_ALREADY_IN_OTHER_REPO"
    )


def test_normal_folder_rules(api, ws):
    b1, b2 = api.bucket(ws), api.bucket(ws)
    body = {"name": "n", "storageType": "S3", "mode": "NORMAL", "workspaceId": ws}
    same_folder = {**body, "repoBuckets": [attach(b1, "data"), attach(b2, "data")]}
    refused = api.fail(api.http.post("/repo", json=same_folder), 400)
    assert refused["error_code"] == "NORMAL_UNIT_FOLDER_ALREADY_USED"

    repo_id = api.repo(ws, [attach(b1, "data")])
    taken = {**body, "repoBuckets": [attach(b1, "data")]}
    assert api.fail(api.http.post("/repo", json=taken), 400)["error_code"] == (
        "NORMAL_UNIT_FOLDER_ALREADY_USED"
    )
    api.repo(ws, [attach(b1, "elsewhere")])  # same bucket, another folder: fine

    name = api.get_repo(repo_id)["name"]
    edit = {**body, "name": name, "repoBuckets": [attach(b1, "renamed")]}
    refused = api.fail(api.http.put(f"/repo/{repo_id}", json=edit), 400)
    assert refused["error_code"] == "NORMAL_UNIT_CANNOT_EDIT_FOLDER"


def test_repo_validate_endpoints(api, ws):
    b1, b2 = api.bucket(ws), api.bucket(ws)
    new_id = str(uuid.uuid4())  # [C] sends a repoId in the body even for a new repository
    good = {
        "repoId": new_id,
        "mode": "MIRROR",
        "repoBuckets": [attach(b1, master=True), attach(b2)],
    }
    assert api.ok(api.http.post("/repo/validate", json=good)) == {"success": True}
    bad = {"repoId": new_id, "mode": "MIRROR", "repoBuckets": [attach(b1), attach(b2)]}
    answer = api.http.post("/repo/validate", json=bad)
    assert answer.status_code == 200
    assert answer.json()["success"] is False
    assert answer.json()["error_code"] == "MIRROR_MASTER_UNIT_MISSING"
    repo_id = api.repo(ws, [attach(b1, "a")])
    update = {"repoId": repo_id, "mode": "NORMAL", "repoBuckets": [attach(b1, "b")]}
    result = api.http.post(f"/repo/{repo_id}/validate", json=update).json()
    assert result["error_code"] == "NORMAL_UNIT_CANNOT_EDIT_FOLDER"
    missing_id = str(uuid.uuid4())
    missing = {**update, "repoId": missing_id}
    api.fail(api.http.post(f"/repo/{missing_id}/validate", json=missing), 404)
    raid = api.fail(api.http.post("/repo/validate", json={**good, "mode": "RAID"}), 400)
    assert 'body.mode: is "RAID"' in raid["message"]


# -- repo storage API keys --------------------------------------------------------------------


def test_repo_api_key_secret_only_in_create_response(api, ws):
    repo_id = api.repo(ws)
    created = api.ok(
        api.http.post(
            f"/repo/{repo_id}/apikey",
            json={"name": "rw", "accessType": "WRITE", "repoId": repo_id},
        )
    )
    assert set(created) == {"success", "id", "key", "secret"}
    listing = api.http.get(f"/repo/{repo_id}/apikey")
    assert created["secret"] not in listing.text
    (key,) = api.ok(listing)["keys"]
    assert key["key"] == created["key"] and key["accessType"] == "WRITE"
    assert set(key["secret"]) == {"key", "iv", "authTag", "message"}
    assert created["secret"] not in api.http.get("/repo").text
    found = api.store.find_repo_api_key_by_key(created["key"])
    assert found is not None and found["secret"] == created["secret"]
    assert found["repoId"] == repo_id


def test_repo_api_key_update_delete_and_enum(api, ws):
    repo_id = api.repo(ws)
    key_id = api.ok(api.http.post(f"/repo/{repo_id}/apikey", json=key_body(repo_id)))["id"]
    api.ok(
        api.http.put(f"/repo/{repo_id}/apikey/{key_id}", json={"name": "k2", "accessType": "ADMIN"})
    )
    (key,) = api.ok(api.http.get(f"/repo/{repo_id}/apikey"))["keys"]
    assert (key["name"], key["accessType"]) == ("k2", "ADMIN")
    path = f"/repo/{repo_id}/apikey/{key_id}"
    for partial in ({"name": "k3"}, {"accessType": "READ"}):  # [C]: both required
        missing = "accessType" if "name" in partial else "name"
        message = api.fail(api.http.put(path, json=partial), 400)["message"]
        assert message == f"Invalid request: body.{missing}: is required"
    assert (
        "accessType"
        in api.fail(api.http.put(path, json={"name": "k", "accessType": "RW"}), 400)["message"]
    )
    (key,) = api.ok(api.http.get(f"/repo/{repo_id}/apikey"))["keys"]
    assert (key["name"], key["accessType"]) == ("k2", "ADMIN")
    bad = api.http.post(f"/repo/{repo_id}/apikey", json=key_body(repo_id, access="OWNER"))
    assert "body.accessType" in api.fail(bad, 400)["message"]
    nameless = {"repoId": repo_id, "accessType": "READ"}
    message = api.fail(api.http.post(f"/repo/{repo_id}/apikey", json=nameless), 400)["message"]
    assert message == "Invalid request: body.name: is required"
    api.ok(api.http.delete(f"/repo/{repo_id}/apikey/{key_id}"))
    assert api.ok(api.http.get(f"/repo/{repo_id}/apikey"))["keys"] == []
    api.fail(api.http.delete(f"/repo/{repo_id}/apikey/{key_id}"), 404)
    missing_repo = str(uuid.uuid4())
    api.fail(api.http.post(f"/repo/{missing_repo}/apikey", json=key_body(missing_repo)), 404)


# -- repo AI API keys -------------------------------------------------------------------------


def test_repo_ai_key_lifecycle(api, ws):
    repo_id = api.repo(ws)
    first = api.ok(
        api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "a", "aiType": "OPENAI"})
    )
    second = api.ok(
        api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "b", "aiType": "ANTHROPIC"})
    )
    assert {"id", "key", "secret"} <= set(first)
    assert first["key"].startswith("sk-fb-") and first["secret"].startswith("sk-fb-")
    listing = api.http.get(f"/repo/{repo_id}/ai/apikey")
    assert first["secret"] not in listing.text
    keys = api.ok(listing)["apiKeys"]
    assert [k["id"] for k in keys] == [second["id"], first["id"]]  # newest first
    assert set(keys[0]) == {"id", "name", "repoId", "key", "aiType", "createdAt", "deletedAt"}

    found = api.store.find_repo_ai_key_by_token(first["secret"])
    assert found == {
        "id": first["id"],
        "repoId": repo_id,
        "repoName": api.get_repo(repo_id)["name"],
        "workspaceId": ws,
        "name": "a",
        "aiType": "OPENAI",
    }
    assert api.store.find_repo_ai_key_by_token(first["key"]) is None

    path = f"/repo/{repo_id}/ai/apikey/{first['id']}"
    api.ok(api.http.put(path, json={"name": "renamed"}))
    retyped = api.fail(api.http.put(path, json={"aiType": "GOOGLE"}), 400)["message"]
    assert "body: unknown field aiType" in retyped  # aiType is fixed: a new type is a new key
    assert api.ok(api.http.delete(path))["message"]
    api.fail(api.http.delete(path), 404)
    api.fail(api.http.put(path, json={"name": "again"}), 404)
    assert api.store.find_repo_ai_key_by_token(first["secret"]) is None
    assert [k["id"] for k in api.ok(api.http.get(f"/repo/{repo_id}/ai/apikey"))["apiKeys"]] == [
        second["id"]
    ]
    bad = api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "c", "aiType": "MISTRAL"})
    api.fail(bad, 400)


def test_keys_of_a_deleted_repo_stop_working(api, ws):
    repo_id = api.repo(ws)
    storage = api.ok(api.http.post(f"/repo/{repo_id}/apikey", json=key_body(repo_id)))
    ai = api.ok(api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "a", "aiType": "OTHER"}))
    api.ok(api.http.delete(f"/repo/{repo_id}"))
    assert api.store.find_repo_api_key_by_key(storage["key"]) is None
    assert api.store.find_repo_ai_key_by_token(ai["secret"]) is None


# -- the old, lenient payloads the strict contract refuses (issue 8) --------------------------


def test_repo_key_create_without_repo_id_is_refused(api, ws):
    """fbplan used to send ``{name, accessType}``; the official client sends ``repoId`` too."""
    repo_id = api.repo(ws)
    old = api.http.post(f"/repo/{repo_id}/apikey", json={"name": "k", "accessType": "READ"})
    assert api.fail(old, 400)["message"] == "Invalid request: body.repoId: is required"
    assert api.ok(api.http.get(f"/repo/{repo_id}/apikey"))["keys"] == []


def test_repo_key_create_with_another_repo_id_is_refused(api, ws):
    repo_id, other = api.repo(ws), api.repo(ws)
    response = api.http.post(f"/repo/{repo_id}/apikey", json=key_body(other))
    assert "body.repoId" in api.fail(response, 400)["message"]
    assert api.ok(api.http.get(f"/repo/{repo_id}/apikey"))["keys"] == []
    assert api.ok(api.http.get(f"/repo/{other}/apikey"))["keys"] == []
