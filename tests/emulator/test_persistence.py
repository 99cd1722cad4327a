"""SQLite persistence: a restart keeps everything; writes are thread-safe.

(Start-up time is measured in benchmarks/bench_emulator_startup.py, not asserted here.)"""

from __future__ import annotations

import threading
from pathlib import Path

from fbplan.emulator.problems import ApiProblem
from fbplan.emulator.store import Store
from fbplan.emulator.store_repos import Attachment


def test_restart_on_the_same_file_keeps_everything(tmp_path: Path):
    path = tmp_path / "state" / "emulator.db"
    first = Store(path)
    workspace = first.create_workspace("prod")
    bucket_id = first.create_bucket(
        workspace["id"], "media", "real-media", "S3", key="k", secret="s"
    )
    repo_id = first.create_repo(
        workspace["id"], "app", "S3", "NORMAL", [Attachment(bucket_id, "m")]
    )
    key = first.create_repo_api_key(repo_id, "rw", "WRITE")
    ai_key = first.create_repo_ai_key(repo_id, "ai", "OPENAI")
    first.set_quotas({"buckets": 5})
    first.set_node("s3-us-east-1-aws", "http://127.0.0.1:1", "us-east-1", "aws", 4, "ONLINE")
    first.record_storage_traffic(repo_id, bucket_id, "h", 1, 2, 1, 3.0)
    identity = (first.org_id, first.user_id)
    first.close()

    second = Store(path)
    try:
        assert (second.org_id, second.user_id) == identity
        (repo,) = second.list_repos()
        assert repo["name"] == "app" and repo["buckets"][0]["bucketId"] == bucket_id
        assert second.find_repo_api_key_by_key(key["key"])["secret"] == key["secret"]
        assert second.find_repo_ai_key_by_token(ai_key["secret"])["id"] == ai_key["id"]
        assert second.get_quotas()["buckets"] == 5
        assert second.list_nodes()[0]["latency_ms"] == 4
        assert second.repo_stats()[0]["totalUploadBytes"] == "1"
    finally:
        second.close()


def test_concurrent_writes_are_serialized(tmp_path: Path):
    store = Store(tmp_path / "emulator.db")
    workspace_id = store.create_workspace("w")["id"]
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        try:
            store.create_bucket(
                workspace_id, "same-name", f"real-{index}", "S3", key="k", secret="s"
            )
            result = "ok"
        except ApiProblem as problem:
            result = str(problem.status)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert outcomes.count("ok") == 1
    assert outcomes.count("400") == 11


def test_memory_store_has_stable_identity_for_its_lifetime():
    store = Store(":memory:")
    assert store.profile()["orgId"] == store.org_id
    store.close()
