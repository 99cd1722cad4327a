"""Conformance: workspace members (section 3) and repository cloud keys (section 9), with
the rules the emulator holds them to."""

from __future__ import annotations


def team(api) -> dict[str, str]:
    return {user["email"]: user["id"] for user in api.store.org_users()}


def test_the_creator_is_the_admin_member_of_a_new_workspace(api):
    ws = api.workspace()
    users = api.ok(api.http.get(f"/workspace/{ws}"))["workspace"]["users"]
    assert [(u["userId"], u["role"]) for u in users] == [(api.store.user_id, "ADMIN")]


def test_a_member_is_added_once_changes_role_and_is_removed(api):
    ws, ana = api.workspace(), team(api)["ana@example.com"]
    api.ok(api.http.post(f"/workspace/{ws}/users", json={"userId": ana, "role": "READ"}))
    again = api.fail(
        api.http.post(f"/workspace/{ws}/users", json={"userId": ana, "role": "READ"}), 400
    )
    assert "already a member" in again["message"]
    api.ok(api.http.put(f"/workspace/{ws}/users/{ana}", json={"role": "WRITE"}))
    users = api.ok(api.http.get(f"/workspace/{ws}"))["workspace"]["users"]
    assert {u["user"]["email"]: u["role"] for u in users}["ana@example.com"] == "WRITE"
    api.ok(api.http.delete(f"/workspace/{ws}/users/{ana}"))
    api.fail(api.http.delete(f"/workspace/{ws}/users/{ana}"), 404)
    api.fail(api.http.put(f"/workspace/{ws}/users/{ana}", json={"role": "READ"}), 404)


def test_only_users_of_the_organization_with_a_known_role_can_be_added(api):
    ws = api.workspace()
    stranger = api.fail(
        api.http.post(f"/workspace/{ws}/users", json={"userId": "nobody", "role": "READ"}), 400
    )
    assert "not in the organization" in stranger["message"]
    ana = team(api)["ana@example.com"]
    api.fail(api.http.post(f"/workspace/{ws}/users", json={"userId": ana, "role": "OWNER"}), 400)
    api.fail(api.http.post(f"/workspace/{ws}/users", json={"userId": ana}), 400)


def test_a_cloud_key_links_a_provider_key_of_the_repos_workspace_once(api):
    ws, other = api.workspace(), api.workspace()
    repo = api.repo(ws, [])
    key, foreign = api.provider_key(ws, "AWS", region="us-east-1"), api.provider_key(other)
    link = api.ok(api.http.post(f"/repo/{repo}/cloud-apikey", json={"apiKeyId": key}))["id"]
    items = api.ok(api.http.get(f"/repo/{repo}/cloud-apikey"))["items"]
    assert [(i["id"], i["apiKeyId"], i["provider"], i["region"]) for i in items] == [
        (link, key, "AWS", "us-east-1")
    ]
    api.fail(api.http.post(f"/repo/{repo}/cloud-apikey", json={"apiKeyId": key}), 400)
    api.fail(api.http.post(f"/repo/{repo}/cloud-apikey", json={"apiKeyId": foreign}), 400)
    api.fail(api.http.post(f"/repo/{repo}/cloud-apikey", json={"repoId": repo}), 400)


def test_a_linked_provider_key_cannot_be_deleted_until_unlinked(api):
    ws = api.workspace()
    repo, key = api.repo(ws, []), api.provider_key(ws)
    link = api.ok(api.http.post(f"/repo/{repo}/cloud-apikey", json={"apiKeyId": key}))["id"]
    refused = api.fail(api.http.delete(f"/apikeys/{key}"), 400)
    assert "cloud key" in refused["message"]
    api.ok(api.http.delete(f"/repo/{repo}/cloud-apikey/{link}"))
    api.fail(api.http.delete(f"/repo/{repo}/cloud-apikey/{link}"), 404)
    api.ok(api.http.delete(f"/apikeys/{key}"))
