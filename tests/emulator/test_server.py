"""The emulator on real ports: backend, Bridge Nodes and gateway over HTTP."""

from __future__ import annotations

import threading
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from fbplan.emulator.server import RunningEmulator, run_forever, start_emulator

TOKEN = "server-test-token"
NODES = [
    {"id": "s3-us-east-1-aws", "region": "us-east-1", "provider": "aws", "latency_ms": 0},
    {"id": "s3-eu-central-1-gcp", "region": "eu-central-1", "provider": "gcp", "latency_ms": 0},
]


def backend(emulator: RunningEmulator) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.backend_url,
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=10,
    )


def test_start_emulator_serves_every_service(tmp_path: Path):
    with start_emulator(tmp_path / "emulator.db", TOKEN, bridge_nodes=NODES) as emulator:
        assert emulator.gateway_url.endswith("/v1") and len(emulator.bridge_urls) == 2
        with backend(emulator) as http:
            assert httpx.get(emulator.backend_url + "/health").status_code == 200
            assert http.get("/user/profile").json()["data"]["orgId"] == emulator.store.org_id
            nodes = http.get("/node", params={"nodeServices": 1}).json()["data"]
            assert sorted(n["url"] for n in nodes) == sorted(emulator.bridge_urls)
            ai_nodes = http.get("/node", params={"nodeServices": 2}).json()["data"]
            assert [n["url"] + "/v1" for n in ai_nodes] == [emulator.gateway_url]

            workspace = http.post("/workspace", json={"name": "w"}).json()["workspace"]
            bucket = {
                "name": "b",
                "bucket": "real-b",
                "storageType": "S3",
                "key": "k",
                "secret": "s",
                "region": "us-east-1",
            }
            bucket_id = http.post(
                "/bucket", json={**bucket, "workspaceId": workspace["id"]}
            ).json()["bucketId"]
            attachments = [{"bucketId": bucket_id, "folder": "data", "master": True}]
            repo = {
                "name": "app",
                "storageType": "S3",
                "mode": "NORMAL",
                "workspaceId": workspace["id"],
                "repoBuckets": attachments,
            }
            repo_id = http.post("/repo", json=repo).json()["repoId"]
            key_body = {"repoId": repo_id, "name": "rw", "accessType": "WRITE"}
            key = http.post(f"/repo/{repo_id}/apikey", json=key_body)
            llm = {
                "name": "local",
                "aiType": "OPENAI",
                "endpoint": "https://api.openai.com/v1",
                "secret": "sk-up",
                "workspaceId": workspace["id"],
            }
            llm_id = http.post("/ai/llm", json=llm).json()["aiLlmId"]
            attach = http.put(
                f"/repo/{repo_id}", json={**repo, "repoAiLlms": [{"aiLlmId": llm_id}]}
            )
            assert attach.status_code == 200, attach.text
            ai_key = http.post(
                f"/repo/{repo_id}/ai/apikey", json={"name": "ai", "aiType": "OPENAI"}
            )

        for url in emulator.bridge_urls:
            assert httpx.get(url + "/health").status_code == 200
        assert httpx.get(emulator.gateway_url + "/models").status_code == 401
        chat = httpx.post(
            emulator.gateway_url + "/chat/completions",
            headers={"Authorization": f"Bearer {ai_key.json()['secret']}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 200, chat.text
        assert emulator.store.llm_stats([llm_id])[0]["totalApiCalls"] == "1"

        s3 = boto3.client(
            "s3",
            endpoint_url=emulator.bridge_urls[0],
            aws_access_key_id=key.json()["key"],
            aws_secret_access_key=key.json()["secret"],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        s3.put_object(Bucket="app", Key="hello.txt", Body=b"hi there")
        assert s3.get_object(Bucket="app", Key="hello.txt")["Body"].read() == b"hi there"
        counters = emulator.recorder.counters()
        assert counters["bridge PUT /{bucket}/{key}"] == 1
        assert int(emulator.store.repo_stats([repo_id])[0]["totalUploadBytes"]) >= 8


def test_real_server_faults_drop_and_throttle(tmp_path: Path):
    faults = """
    seed: 1
    rules:
      - {action: drop, path: /workspace, count: 1}
      - {action: throttle, path: /bucket, count: 1, retry_after: 3}
    """
    emulator = start_emulator(tmp_path / "e.db", TOKEN, faults=faults)
    assert emulator.faults.seed == 1
    with emulator, backend(emulator) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/workspace")
        assert http.get("/workspace").status_code == 200
        throttled = http.get("/bucket")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
        assert http.get("/bucket").status_code == 200


def test_real_server_commit_then_delay_outlasts_a_client_timeout(tmp_path: Path):
    faults = [{"action": "commit_then_delay", "method": "POST", "delay_ms": 600, "count": 1}]
    with start_emulator(tmp_path / "e.db", TOKEN, faults=faults) as emulator:
        with backend(emulator) as http, pytest.raises(httpx.ReadTimeout):
            http.post("/workspace", json={"name": "slow"}, timeout=0.2)
        with backend(emulator) as http:
            names = [w["name"] for w in http.get("/workspace").json()["workspaces"]]
        assert names == ["slow"]


def test_restart_keeps_state(tmp_path: Path):
    path = tmp_path / "e.db"
    with start_emulator(path, TOKEN) as first, backend(first) as http:
        http.post("/workspace", json={"name": "kept"})
        org_id = first.store.org_id
    with start_emulator(path, TOKEN) as second, backend(second) as http:
        assert [w["name"] for w in http.get("/workspace").json()["workspaces"]] == ["kept"]
        assert second.store.org_id == org_id
        assert len(second.store.list_nodes()) == 2  # one bridge node, one gateway


def test_run_forever_hands_over_and_stops(tmp_path: Path):
    stop = threading.Event()
    seen: list[RunningEmulator] = []

    def ready(emulator: RunningEmulator) -> None:
        seen.append(emulator)
        assert httpx.get(emulator.backend_url + "/").status_code == 200
        stop.set()

    result = run_forever(tmp_path / "e.db", TOKEN, on_ready=ready, stop_event=stop)
    assert seen == [result]
    with pytest.raises(httpx.TransportError):
        httpx.get(result.backend_url + "/", timeout=2)


def test_a_request_body_over_the_limit_is_refused_with_413_and_nothing_is_made(tmp_path: Path):
    from fbplan.emulator.api import MAX_REQUEST_BYTES

    emulator_db = tmp_path / "emulator.db"
    with (
        start_emulator(emulator_db, TOKEN, bridge_nodes=NODES) as emulator,
        backend(emulator) as http,
    ):
        refused = http.post("/workspace", json={"name": "w" * (MAX_REQUEST_BYTES + 1)})
        assert refused.status_code == 413
        assert refused.json()["success"] is False
        assert http.get("/workspace").json()["workspaces"] == []
        assert http.post("/workspace", json={"name": "w"}).status_code == 201
