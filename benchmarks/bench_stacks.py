"""Issue 13: many stacks planned in one run, against one process per stack, side by side.

    python benchmarks/bench_stacks.py [--stacks 50] [--resources 100] [--latency-ms 100]
                                      [--parallelism 8]

Generates `--stacks` stacks of about `--resources` resources each (benchmarks/estate.py's
shape, names made unique per stack), applies them all at no latency, then, with the
backend's latency injected by the emulator's fault rules, plans them:

- in one run: `fbplan plan --stack-parallelism P stacks/`;
- in one process per stack, P at a time: `fbplan plan stacks/sNN`, as a CI matrix of P
  runners would (on this one machine).

Both plans are measured in the same run against the same emulator (its own process), so
their ratio moves less with the machine's load than either wall time. Nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_estate import FBPLAN, Run, emulator, run
from estate import repos_for, resource_count, write_estate


def write_stacks(root: Path, stacks: int, resources: int) -> list[Path]:
    """`stacks` estates under root/stacks/, each its own workspace, bucket and repo names."""
    folders = []
    for n in range(stacks):
        name = f"s{n:02d}"
        spec = write_estate(root / "stacks" / name, repos_for(resources))
        text = spec.read_text()
        text = text.replace("workspace: estate", f"workspace: estate-{name}")
        text = text.replace("bucket: estate-", f"bucket: estate-{name}-")
        text = re.sub(r"\b(b\d+-\d|r\d+)\b", rf"{name}\1", text)
        spec.write_text(text)
        folders.append(spec.parent)
    return folders


def one_run(root: Path, env: dict[str, str], parallelism: int) -> Run:
    args = [*FBPLAN, "plan", "--detailed-exitcode", "--stack-parallelism", str(parallelism)]
    return run([*args, "stacks"], env=env, cwd=root)


def one_process_each(
    root: Path, folders: list[Path], env: dict[str, str], parallelism: int
) -> tuple[float, float, list[int]]:
    """Wall time of them all, their CPU time summed, and their exit codes."""
    started = time.perf_counter()

    def plan(folder: Path) -> Run:
        return run([*FBPLAN, "plan", "--detailed-exitcode", str(folder)], env=env, cwd=root)

    with ThreadPoolExecutor(parallelism) as pool:
        runs = list(pool.map(plan, folders))
    return time.perf_counter() - started, sum(r.cpu for r in runs), [r.code for r in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=50)
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--parallelism", type=int, default=8)
    options = parser.parse_args()
    resources = resource_count(repos_for(options.resources))
    with tempfile.TemporaryDirectory(prefix="fbplan-stacks-") as scratch:
        root = Path(scratch)
        folders = write_stacks(root, options.stacks, options.resources)
        with emulator(root / "emulator") as emu:
            env = emu.env()
            applied = run(
                [*FBPLAN, "apply", "--yes", "--no-smoke", "--parallelism", "16",
                 "--stack-parallelism", str(options.parallelism), "stacks"],
                env=env, cwd=root,
            )  # fmt: skip
            assert applied.code == 0, applied.out[-3000:]
            emu.latency(options.latency_ms)
            emu.clear_requests()
            together = one_run(root, env, options.parallelism)
            together_requests = emu.requests()
            emu.clear_requests()
            apart_wall, apart_cpu, codes = one_process_each(root, folders, env, options.parallelism)
            apart_requests = emu.requests()
    assert together.code == 0 and set(codes) == {0}, (together.code, codes)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    what = f"{options.stacks} stacks of {resources} resources at {options.latency_ms} ms"
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load}")
    print(f"plan of {what}, {options.parallelism} at a time")
    rows = [
        ("one run (--stack-parallelism)", together.wall, together.cpu, together_requests),
        ("one process per stack", apart_wall, apart_cpu, apart_requests),
    ]
    for label, wall, cpu, requests in rows:
        print(f"  {label:<32} {wall:7.2f} s wall  {cpu:7.2f} s CPU  {requests:6d} requests")
    print(
        f"  one run is {apart_wall / together.wall:.2f}x faster (wall) and uses "
        f"{apart_cpu / together.cpu:.2f}x less CPU"
    )


if __name__ == "__main__":
    main()
