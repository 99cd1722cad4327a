"""What checking a message against the API contract costs: the client's reading check of
every answer of a refresh, and the emulator's check of every request.

    python benchmarks/bench_contract_checks.py [--repos 143]

The estate of benchmarks/estate.py (per repository two buckets, two storage keys, one AI
key, the workspace's AI LLM attached; 143 repositories are its 1,000 resources) is built in
an in-process emulator; its answers are the ones a refresh reads. Each figure is the median
of a few runs, beside what jsonschema alone takes for the same message in the same run.
Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from fbplan import contract
from fbplan.contract import NO_BODY, _problems


def _median_s(action: Callable[[], object], times: int) -> float:
    runs = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def _answers(repos: int) -> list[tuple[str, dict[str, str], Any]]:
    """The lists a refresh reads, from an emulator holding the estate."""
    from fbplan.emulator.api import create_backend_app
    from fbplan.emulator.faults import FaultInjector
    from fbplan.emulator.store import Store
    from fbplan.emulator.store_repos import Attachment

    store = Store(":memory:")
    workspace = store.create_workspace("bench")["id"]
    llm = store.create_llm(workspace, "llm", "OPENAI", secret="s")
    for i in range(repos):
        buckets = [
            store.create_bucket(
                workspace, f"b{i}-{n}", f"bench-{i}-{n}", "S3", key="AKIA", secret="s", region="eu"
            )
            for n in range(2)
        ]
        attached = [
            Attachment(b, f, n == 0) for n, (b, f) in enumerate(zip(buckets, FOLDERS, strict=True))
        ]
        repo = store.create_repo(workspace, f"r{i}", "S3", "NORMAL", attached, [llm])
        store.create_repo_api_key(repo, "rw", "WRITE")
        store.create_repo_api_key(repo, "ro", "READ")
        store.create_repo_ai_key(repo, "ai", "OPENAI")
    client = create_backend_app(store, "t", FaultInjector([], 1)).test_client()
    reads = [
        ("/workspace", {}),
        ("/repo", {"workspaceId": workspace}),
        ("/bucket", {"workspaceId": workspace}),
        ("/ai/llm", {"workspaceId": workspace}),
    ]
    found = []
    for path, query in reads:
        response = client.get(path, query_string=query, headers={"Authorization": "Bearer t"})
        assert response.status_code == 200, response.get_data(as_text=True)
        found.append((path, query, response.get_json()))
    return found


FOLDERS = ("data", "logs")

#: Requests fbplan sends while it applies the estate: (method, path, query, body).
REQUESTS: list[tuple[str, str, dict[str, str], Any]] = [
    ("GET", "/repo", {"workspaceId": "ws-1"}, NO_BODY),
    (
        "POST",
        "/repo",
        {},
        {
            "name": "r1",
            "workspaceId": "ws-1",
            "storageType": "S3",
            "mode": "NORMAL",
            "repoBuckets": [
                {"bucketId": "b1", "folder": "data", "master": True},
                {"bucketId": "b2", "folder": "logs", "master": False},
            ],
        },
    ),
    (
        "POST",
        "/bucket",
        {},
        {
            "name": "b1",
            "workspaceId": "ws-1",
            "storageType": "S3",
            "bucket": "bench-1",
            "region": "eu",
            "key": "AKIA",
            "secret": "s",
        },
    ),
    ("POST", "/repo/r1/apikey", {}, {"repoId": "r1", "name": "rw", "accessType": "WRITE"}),
]


def reading(repos: int, times: int) -> list[tuple[str, str, str]]:
    rows = []
    for path, _, body in _answers(repos):
        endpoint = contract.load().find("GET", path)
        assert endpoint is not None and endpoint.reading_problems(body) == []
        check = _median_s(lambda e=endpoint, b=body: e.reading_problems(b), times)
        alone = _median_s(lambda e=endpoint, b=body: _problems(e._reading, b, "r"), times)
        size = len(json.dumps(body)) / 1e6
        rows.append(
            (
                f"client reads GET {path} ({size:.2f} MB)",
                f"{check * 1000:.1f} ms",
                f"jsonschema alone {alone * 1000:.0f} ms ({alone / check:.0f}x)",
            )
        )
    return rows


def requests(times: int) -> list[tuple[str, str, str]]:
    rows = []
    calls = 500
    for method, path, query, body in REQUESTS:
        endpoint = contract.load().find(method, path)
        assert endpoint is not None and endpoint.request_problems(query, body) == [], path

        def check(e: Any = endpoint, q: Any = query, b: Any = body) -> None:
            for _ in range(calls):
                e.request_problems(q, b)

        def alone(e: Any = endpoint, q: Any = query, b: Any = body) -> None:
            for _ in range(calls):
                _problems(e._query, q, "query")
                if b is not NO_BODY:
                    _problems(e._request, b, "body")

        fast, slow = _median_s(check, times) / calls, _median_s(alone, times) / calls
        rows.append(
            (
                f"emulator checks {method} {path}",
                f"{fast * 1e6:.0f} us a request",
                f"jsonschema alone {slow * 1e6:.0f} us ({slow / fast:.0f}x)",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=143, help="repositories (7 resources each)")
    parser.add_argument("--times", type=int, default=5, help="runs a figure is the median of")
    args = parser.parse_args()
    rows = reading(args.repos, args.times) + requests(args.times)
    width = max(len(r[0]) for r in rows)
    middle = max(len(r[1]) for r in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load}")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:<{middle}}  {note}".rstrip())


if __name__ == "__main__":
    main()
