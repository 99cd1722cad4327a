"""How long the emulator takes to start: a fresh data file, and a restart on a full one.

    python benchmarks/bench_emulator_startup.py [--repos 200]

Start-up must stay well under a second, so that `--local` adds no noticeable delay to a
command. Measured, not asserted: it prints the times of a few runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fbplan.emulator.server import start_emulator
from fbplan.emulator.store import Store

RUNS = 5


def start_and_stop(path: Path) -> float:
    started = time.perf_counter()
    emulator = start_emulator(path, "token")
    elapsed = time.perf_counter() - started
    emulator.stop()
    return elapsed


def fill(path: Path, repos: int) -> None:
    store = Store(path)
    workspace = store.create_workspace("bench")["id"]
    for i in range(repos):
        store.create_repo(workspace, f"r{i}", "S3", "NORMAL")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        fresh = [start_and_stop(Path(scratch) / f"fresh-{i}.db") for i in range(RUNS)]
        full = Path(scratch) / "full.db"
        fill(full, args.repos)
        restarts = [start_and_stop(full) for _ in range(RUNS)]
    print(f"fresh data file:         median {statistics.median(fresh) * 1000:.0f} ms")
    print(f"restart ({args.repos} repos): median {statistics.median(restarts) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
