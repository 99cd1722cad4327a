"""Listing repositories: the same answer at any size, for a fixed number of SQL queries."""

from __future__ import annotations


def _estate(api, ws, repos: int, llm_id: str) -> list[str]:
    ids = []
    for _ in range(repos):
        data, logs = api.bucket(ws), api.bucket(ws)
        repo_id = api.repo(
            ws,
            [
                {"bucketId": data, "folder": "data", "master": True},
                {"bucketId": logs, "folder": "logs", "master": False},
            ],
            repoAiLlms=[{"aiLlmId": llm_id}],
        )
        key = {"repoId": repo_id, "name": "rw", "accessType": "WRITE"}
        api.ok(api.http.post(f"/repo/{repo_id}/apikey", json=key))
        api.ok(api.http.post(f"/repo/{repo_id}/ai/apikey", json={"name": "ai", "aiType": "OPENAI"}))
        ids.append(repo_id)
    return ids


def _queries_to_list(api, ws) -> int:
    statements: list[str] = []
    api.store._conn.set_trace_callback(statements.append)
    try:
        api.ok(api.http.get("/repo", params={"workspaceId": ws}))
    finally:
        api.store._conn.set_trace_callback(None)
    return len(statements)


def test_a_list_costs_the_same_queries_for_two_repos_and_for_twenty(api):
    small, large = api.workspace(), api.workspace()
    _estate(api, small, 2, api.llm(small))
    _estate(api, large, 20, api.llm(large))
    assert _queries_to_list(api, large) == _queries_to_list(api, small)


def test_each_listed_repo_carries_its_own_buckets_llms_and_keys(api):
    ws = api.workspace()
    llm_id = api.llm(ws)
    ids = _estate(api, ws, 3, llm_id)
    api.ok(api.http.delete(f"/repo/{ids[1]}"))
    repos = api.ok(api.http.get("/repo", params={"workspaceId": ws}))["repos"]
    assert [r["id"] for r in repos] == [ids[0], ids[2]]
    for repo in repos:
        single = api.get_repo(repo["id"])
        assert repo == single
        assert [b["folder"] for b in repo["buckets"]] == ["data", "logs"]
        assert [b["master"] for b in repo["buckets"]] == [True, False]
        for item in repo["buckets"]:
            assert [r["id"] for r in item["bucket"]["repos"]] == [repo["id"]]
        (llm,) = repo["aiLlms"]
        assert [r["id"] for r in llm["aiLlm"]["repos"]] == [ids[0], ids[2]]
        assert [k["name"] for k in repo["apiKeys"]] == ["rw"]
        assert [k["repoId"] for k in repo["aiApiKeys"]] == [repo["id"]]
