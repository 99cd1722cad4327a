"""Every figure of issue 9 side by side, on a generated estate (benchmarks/estate.py).

    python benchmarks/bench_estate.py [--quick]

Whole commands run as a user runs them (`fbplan ...` in a subprocess, its CPU time and peak
memory read from the kernel) against an emulator in its own process, with the backend's
latency injected by the emulator's fault rules. Figures that the machine's noise moves are
also given as ratios of two things measured in the same run. Nothing here asserts: it
prints one table (`--quick` runs smaller sizes, for a first try).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from estate import repos_for, resource_count, write_estate

ROOT = Path(__file__).resolve().parent.parent
FBPLAN = [sys.executable, "-m", "fbplan"]


@dataclass
class Run:
    """One finished command: wall and CPU seconds, peak memory in MB, exit code, stdout."""

    wall: float
    cpu: float
    peak_mb: float
    code: int
    out: str


def user_env() -> dict[str, str]:
    """The environment a user's shell gives fbplan: Python writes and reuses bytecode, as a
    pip-installed package has it (a shell with PYTHONDONTWRITEBYTECODE set would make every
    run compile fbplan's modules from source, hundreds of milliseconds no user pays)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_bytecode() -> None:
    """Write fbplan's bytecode once, as `pip install` does for an installed package."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "fbplan")],
                   env=user_env(), check=True)  # fmt: skip


def run(args: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Run:
    """Run a command; CPU and peak memory of the child from wait4's rusage."""
    env = user_env() if env is None else env
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    wall = time.perf_counter() - started
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, text)


def median_run(args: Sequence[str], times: int, **kw: object) -> Run:
    runs = [run(args, **kw) for _ in range(times)]  # type: ignore[arg-type]
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def _free_port() -> int:
    """A port with the three after it free too (backend, gateway, Bridge Node)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 60000 and all(_is_free(port + n) for n in range(1, 4)):
            return port


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Emulator:
    url: str
    token: str

    def env(self) -> dict[str, str]:
        return {**user_env(), "FB_BACKEND_URL": self.url, "FB_JWT": self.token, "NO_COLOR": "1"}

    def latency(self, ms: int) -> None:
        rules = [{"service": "backend", "action": "latency", "latency_ms": ms}] if ms else []
        self._admin("PUT", "/_emulator/faults", rules)

    def requests(self) -> int:
        return int(self._admin("GET", "/_emulator/counters")["total"])

    def clear_requests(self) -> None:
        self._admin("DELETE", "/_emulator/requests")

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = httpx.get(self.url + path, params=params, headers=headers, timeout=60)
        response.raise_for_status()
        return dict(response.json())

    def _admin(self, method: str, path: str, body: object = None) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = httpx.request(method, self.url + path, json=body, headers=headers, timeout=60)
        response.raise_for_status()
        return dict(response.json())


@contextmanager
def emulator(folder: Path) -> Iterator[Emulator]:
    """`fbplan emulator` in its own process, as a real backend would be."""
    folder.mkdir(parents=True, exist_ok=True)
    token, port = secrets.token_urlsafe(16), _free_port()
    args = [*FBPLAN, "emulator", "--port", str(port), "--token", token]
    args += ["--data", str(folder / "emulator.db")]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder, env=user_env()
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield Emulator(url, token)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- the measurements ---------------------------------------------------------------------


def spec_cost(sizes: Sequence[int], scratch: Path) -> list[tuple[str, str, str]]:
    """Goal 1: validate and plan (no latency, a workspace that does not exist yet)."""
    rows = []
    with emulator(scratch / "cost") as emu:
        for size in sizes:
            repos = repos_for(size)
            files = max(1, size // 10_000)  # a file holds at most 100,000 YAML nodes
            spec = write_estate(scratch / f"cost-{size}", repos, files=files)
            validate = run([*FBPLAN, "validate", str(spec)], env=emu.env())
            plan = run([*FBPLAN, "plan", str(spec)], env=emu.env())
            assert validate.code == 0 and plan.code == 0, (validate.out, plan.out)
            count = resource_count(repos)
            rows.append(
                (
                    f"validate, {count:,} resources ({files} file{'s' * (files > 1)})",
                    f"{validate.cpu:.2f} s CPU",
                    f"{validate.cpu / count * 1e6:.0f} us/resource",
                )
            )
            rows.append(
                (
                    f"plan, {count:,} resources, no latency",
                    f"{plan.cpu:.2f} s CPU, {plan.peak_mb:.0f} MB",
                    f"{plan.cpu / count * 1e6:.0f} us/resource",
                )
            )
    return rows


def per_resource_refresh(emu: Emulator, workers: int = 10) -> tuple[float, int]:
    """A Terraform-style refresh: one GET per live resource, `workers` at a time, each to
    the narrowest read the API offers for that object (found beforehand, untimed)."""
    reads = _one_read_per_resource(emu)
    headers = {"Authorization": f"Bearer {emu.token}"}
    started = time.perf_counter()
    client = httpx.Client(base_url=emu.url, headers=headers, timeout=60)
    with client, ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda read: client.get(read[0], params=read[1]), reads))
    return time.perf_counter() - started, len(reads)


def _one_read_per_resource(emu: Emulator) -> list[tuple[str, dict[str, str] | None]]:
    workspaces = emu.get("/workspace")["workspaces"]
    ws_id = next(str(w["id"]) for w in workspaces if w["name"] == "estate")  # type: ignore[attr-defined,index]
    org_id = str(emu.get("/user/profile")["data"]["orgId"])  # type: ignore[index]
    in_ws = {"workspaceId": ws_id}
    reads: list[tuple[str, dict[str, str] | None]] = [(f"/workspace/{ws_id}", None)]
    for bucket in emu.get("/bucket", in_ws)["buckets"]:  # type: ignore[attr-defined]
        reads.append((f"/bucket/{bucket['id']}/status", None))
    for _ in emu.get("/ai/llm", in_ws)["aiLlms"]:  # type: ignore[attr-defined]
        reads.append(("/ai/llm", in_ws))  # no read of one AI LLM: its workspace's list
    policies = emu.get("/policy", {"orgId": org_id, **in_ws})["policies"]
    for repo in emu.get("/repo", in_ws)["repos"]:  # type: ignore[attr-defined]
        reads.append(("/repo", {"repoId": repo["id"]}))
        reads += [(f"/repo/{repo['id']}/apikey", None)] * len(repo["apiKeys"])
        reads += [(f"/repo/{repo['id']}/ai/apikey", None)] * len(repo["aiApiKeys"])
        policies += emu.get("/policy", {"orgId": org_id, **in_ws, "repoId": repo["id"]})["policies"]
    reads += [(f"/policy/{policy['id']}", None) for policy in policies]  # type: ignore[attr-defined]
    return reads


def refresh_and_apply(size: int, scratch: Path) -> list[tuple[str, str, str]]:
    """Goals 2 and 3: apply N creates at 50 ms (--parallelism 16), then refresh at 100 ms."""
    repos = repos_for(size)
    count = resource_count(repos)
    folder = scratch / f"apply-{size}"
    spec = write_estate(folder, repos)
    rows = []
    with emulator(folder) as emu:
        emu.latency(50)
        emu.clear_requests()
        apply = run([*FBPLAN, "apply", str(spec), "--yes", "--no-smoke", "--parallelism", "16"],
                    env=emu.env(), cwd=folder)  # fmt: skip
        assert apply.code == 0, apply.out[-2000:]
        creates = emu.requests()
        depth = 4  # workspace -> buckets, AI LLM -> repos -> keys and repo policies
        bound = max(depth * 0.05, count * 0.05 / 16)
        rows.append(
            (
                f"apply, {count:,} creates at 50 ms, --parallelism 16",
                f"{apply.wall:.2f} s, {apply.peak_mb:.0f} MB ({creates} requests)",
                f"{apply.wall / bound:.2f}x the bound {bound:.2f} s",
            )
        )
        emu.latency(100)
        emu.clear_requests()
        plan = run([*FBPLAN, "plan", str(spec), "--detailed-exitcode"], env=emu.env(), cwd=folder)
        assert plan.code == 0, plan.out[-2000:]
        requests = emu.requests()
        baseline, baseline_requests = per_resource_refresh(emu)
        rows.append(
            (
                f"plan (refresh), {count:,} resources at 100 ms",
                f"{plan.wall:.2f} s ({requests} requests)",
                f"{baseline / plan.wall:.1f}x faster than a GET per resource "
                f"({baseline:.2f} s, {baseline_requests} requests, 10 threads)",
            )
        )
        emu.latency(0)
        started = run([*FBPLAN, "plan", str(spec)], env=emu.env(), cwd=folder)
        rows.append(
            (
                "  of which before the first request",
                f"{_first_request_s(spec, folder, emu):.2f} s",
                f"(plan with no latency: {started.wall:.2f} s)",
            )
        )
    return rows


def _first_request_s(spec: Path, folder: Path, emu: Emulator) -> float:
    """Start-up and loading: a plan pointed at a backend that does not answer at once."""
    code = (
        "import time, sys; t = time.perf_counter();"
        "import httpx; real = httpx.Client.send\n"
        "def send(self, *a, **k):\n"
        "    print(f'{time.perf_counter() - t:.3f}', file=sys.stderr, flush=True)\n"
        "    raise SystemExit(0)\n"
        "httpx.Client.send = send\n"
        "from fbplan.cli.main import main; sys.argv = ['fbplan', 'plan', sys.argv[1]]; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(spec)],
        env=emu.env(),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return float(proc.stderr.strip().splitlines()[0])


def fingerprints(scratch: Path) -> list[tuple[str, str, str]]:
    """Goal 4: a converged plan of 100 buckets with and without their fingerprints."""
    rows = []
    for distinct in (False, True):
        folder = scratch / f"fp-{distinct}"
        spec = write_estate(folder, 50, distinct_secrets=distinct)  # 100 buckets
        with emulator(folder) as emu:
            apply = run([*FBPLAN, "apply", str(spec), "--yes", "--no-smoke", "--parallelism", "16"],
                        env=emu.env(), cwd=folder)  # fmt: skip
            assert apply.code == 0, apply.out[-2000:]
            with_fp = median_run([*FBPLAN, "plan", str(spec)], 3, env=emu.env(), cwd=folder)
            kept = folder / "fbplan.fingerprints.json"
            kept.rename(folder / "fingerprints.saved")
            without = median_run([*FBPLAN, "plan", str(spec)], 3, env=emu.env(), cwd=folder)
        share = max(0.0, with_fp.wall - without.wall) / with_fp.wall
        label = "100 distinct secrets" if distinct else "100 buckets, one secret"
        rows.append(
            (
                f"plan, {label}: with / without fingerprints",
                f"{with_fp.wall:.2f} s / {without.wall:.2f} s",
                f"fingerprints {share:.0%} of plan time",
            )
        )
        if distinct:
            rows.append(
                (
                    "apply of those, --parallelism 16 (100 hashes)",
                    f"{apply.wall:.2f} s, {apply.peak_mb:.0f} MB peak",
                    "",
                )
            )
    return rows


def startup(times: int) -> list[tuple[str, str, str]]:
    """Goal 5: start-up of two light commands against `python -c pass`."""
    base = median_run([sys.executable, "-c", "pass"], times)
    rows = [("python -c pass", f"{base.wall * 1000:.0f} ms", "1.0x")]
    for args in (["--help"], ["validate", "examples/quickstart.yaml"]):
        measured = median_run([*FBPLAN, *args], times)
        rows.append(
            (
                f"fbplan {' '.join(args)}",
                f"{measured.wall * 1000:.0f} ms",
                f"{measured.wall / base.wall:.1f}x python -c pass",
            )
        )
    return rows


def emulator_list(repos: int) -> list[tuple[str, str, str]]:
    """Goal 6: `GET /repo` of a workspace with `repos` repositories (in-process app)."""
    from fbplan.emulator.api import create_backend_app
    from fbplan.emulator.faults import FaultInjector
    from fbplan.emulator.store import Store
    from fbplan.emulator.store_repos import Attachment

    store = Store(":memory:")
    workspace = store.create_workspace("bench")["id"]
    for i in range(repos):
        bucket_id = store.create_bucket(
            workspace, f"b{i}", f"bench-{i}", "S3", key="AKIABENCH", secret="s", region="us-east-1"
        )
        attachment = Attachment(bucket_id, "", True)
        repo_id = store.create_repo(workspace, f"r{i}", "S3", "NORMAL", [attachment])
        store.create_repo_api_key(repo_id, "rw", "WRITE")
    app = create_backend_app(store, "t", FaultInjector([], 1))
    client = app.test_client()
    headers = {"Authorization": "Bearer t"}
    times = []
    for _ in range(5):
        started = time.perf_counter()
        response = client.get(f"/repo?workspaceId={workspace}", headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200 and len(response.get_json()["repos"]) == repos
    return [
        (f"emulator GET /repo, {repos:,} repos", f"{statistics.median(times) * 1000:.0f} ms", "")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", help="comma list: cost,refresh,fingerprints,startup,emulator")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    sizes = (1_000, 5_000) if args.quick else (1_000, 10_000, 50_000)
    sections = {
        "cost": lambda scratch: spec_cost(sizes, scratch),
        "refresh": lambda scratch: refresh_and_apply(300 if args.quick else 1_000, scratch),
        "fingerprints": fingerprints,
        "startup": lambda scratch: startup(5 if args.quick else 11),
        "emulator": lambda scratch: emulator_list(1_000),
    }
    compile_bytecode()
    scratch = Path(tempfile.mkdtemp(prefix="fbplan-bench-"))
    try:
        rows: list[tuple[str, str, str]] = []
        for name, section in sections.items():
            if only is None or name in only:
                rows += section(scratch)
                print(f"... {name} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    middle = max(len(r[1]) for r in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load}")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:<{middle}}  {note}".rstrip())


if __name__ == "__main__":
    main()
