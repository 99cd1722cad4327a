"""Request counts and wall times of plan (refresh) and apply on the emulator with latency.

    python benchmarks/bench_plan_apply.py [--repos 20] [--latency-ms 20]

A spec with R repos (each with its own bucket and two storage keys) is applied to a fresh
emulator whose backend answers every request after `latency-ms`, first with
--parallelism 1, then with 8 (on a second fresh emulator); then a plan of the converged
workspace shows what a refresh costs. A refresh must cost one list call per kind, not one
per resource, whatever the size of the estate: its request count stays flat as R grows
(AI policies add one call per repo, the API offering no workspace-wide policy list).

Nothing here asserts: it prints a table, for people to compare across changes.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

from fbplan.backend.client import BackendClient
from fbplan.emulator.server import start_emulator
from fbplan.workflow import ApplyRequest, Connection, PlanRequest, apply_prepared, prepare


def write_spec(folder: Path, repos: int) -> Path:
    (folder / "bucket.secret").write_text("benchmark-bucket-secret\n")
    lines = ["version: 1", "workspace: bench", "buckets:"]
    for i in range(repos):
        lines.append(
            f"  b{i}: {{bucket: bench-{i}, storage_type: S3, region: us-east-1, "
            'key: AKIABENCH, secret: "${file:bucket.secret}"}'
        )
    lines.append("repos:")
    for i in range(repos):
        lines += [
            f"  r{i}:",
            "    storage_type: S3",
            "    mode: NORMAL",
            f"    buckets: [{{bucket: b{i}, folder: data, master: true}}]",
            "    api_keys: {rw: {access: WRITE}, ro: {access: READ}}",
        ]
    lines += ["secrets:", "  sink: {type: json, path: secrets.json}"]
    path = folder / "spec.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(repos: int, latency_ms: int, parallelism: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        spec = write_spec(folder, repos)
        token = secrets.token_urlsafe(16)
        faults = [{"service": "backend", "action": "latency", "latency_ms": latency_ms}]
        with start_emulator(folder / "emulator.db", token, faults=faults, seed=1) as emulator:
            api = BackendClient(emulator.backend_url, token)
            connection = Connection(api, None, folder / "fingerprints.json")
            request = PlanRequest(spec)

            started = time.perf_counter()
            prepared = prepare(request, connection)
            plan_requests, plan_seconds = api.request_count, time.perf_counter() - started

            started, before = time.perf_counter(), api.request_count
            report = apply_prepared(prepared, connection, ApplyRequest(parallelism=parallelism))
            apply_seconds = time.perf_counter() - started
            apply_requests = api.request_count - before
            assert report.ok, report.summary()

            started, before = time.perf_counter(), api.request_count
            converged = prepare(request, connection).plan
            refresh_seconds = time.perf_counter() - started
            refresh_requests = api.request_count - before
            assert not converged.has_changes
            api.close()
    return {
        "resources": 1 + repos * 4,
        "plan_requests": plan_requests,
        "plan_s": plan_seconds,
        "apply_requests": apply_requests,
        "apply_s": apply_seconds,
        "refresh_requests": refresh_requests,
        "refresh_s": refresh_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=20)
    args = parser.parse_args()
    header = "parallelism resources plan_req plan_s apply_req apply_s refresh_req refresh_s"
    print(f"backend latency {args.latency_ms} ms per request")
    print(header)
    for parallelism in (1, 8):
        row = run(args.repos, args.latency_ms, parallelism)
        print(
            f"{parallelism:>11} {row['resources']:>9} {row['plan_requests']:>8} "
            f"{row['plan_s']:>6.2f} {row['apply_requests']:>9} {row['apply_s']:>7.2f} "
            f"{row['refresh_requests']:>11} {row['refresh_s']:>9.2f}"
        )


if __name__ == "__main__":
    main()
