"""fbplan interrupted as an operator (or a CI runner) interrupts it: killed by PID after a key
was created, stopped with one Ctrl-C and with two, against an emulator on real ports whose
fault rules make the moment of the interruption deterministic. Then the next plan and apply
must say what is left, lose no secret, and never leak one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbplan.emulator.server import RunningEmulator, start_emulator
from tests.e2e.conftest import Run, User

TOKEN = "interrupt-test-token"
PROVIDER_SECRET = "interrupt-provider-secret-77c3"
KEY = "repo.app.api_key.app-rw"
SPEC = """\
version: 1
workspace: interrupted
provider_keys:
  aws: {provider: AWS, key: AKIAINTR, secret: "${env:INTR_SECRET}", region: us-east-1}
buckets:
%s
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: b0, folder: b0, master: true}]
    api_keys: {app-rw: {access: WRITE}}
secrets:
  sink: {type: json, path: secrets.json}
"""


def spec_text(buckets: int) -> str:
    lines = [
        f"  b{i}: {{bucket: intr-b{i}, storage_type: S3, provider_key: aws, region: us-east-1}}"
        for i in range(buckets)
    ]
    return SPEC % "\n".join(lines)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    data = tmp_path_factory.mktemp("emulator") / "emulator.db"
    with start_emulator(data, TOKEN) as running:
        yield running


@pytest.fixture
def admin(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=emulator.backend_url, headers=headers, timeout=10) as client:
        client.post("/_emulator/reset").raise_for_status()
        yield client


@pytest.fixture
def operator(user: User, emulator: RunningEmulator) -> User:
    user.env.update(FB_BACKEND_URL=emulator.backend_url, FB_JWT=TOKEN, INTR_SECRET=PROVIDER_SECRET)
    return user


def start(user: User, *args: str) -> subprocess.Popen[bytes]:
    """fbplan with its output on unbuffered byte pipes: see read_until."""
    return subprocess.Popen(
        [sys.executable, "-m", "fbplan", *args],
        cwd=user.cwd,
        env=user.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


def read_until(stream: Any, wanted: Callable[[str], bool], seen: list[str]) -> None:
    """Read lines a byte at a time (a hang guard bounds the test, not this loop: the process
    ends anyway). A buffered reader would read ahead, and the lines it held would never
    reach finish(), whose communicate() reads the pipe itself: that lost a "Creating..."
    line now and then."""
    line = b""
    while chunk := stream.read(1):
        line += chunk
        if chunk == b"\n":
            seen.append(line.decode())
            line = b""
            if wanted(seen[-1]):
                return
    raise AssertionError("the line never came:\n" + "".join(seen))


def finish(process: subprocess.Popen[bytes], seen: list[str]) -> Run:
    stdout, stderr = process.communicate(timeout=60)
    return Run(process.returncode, stdout.decode(), "".join(seen) + stderr.decode())


def assert_no_secret(*runs: Run) -> None:
    for run in runs:
        assert PROVIDER_SECRET not in run.stdout + run.stderr


def faults(admin: httpx.Client, *rules: dict[str, Any]) -> None:
    admin.put("/_emulator/faults", json={"rules": list(rules)}).raise_for_status()


# -- killed by PID (SIGKILL) just after the key was created --------------------------------------


def test_a_run_killed_after_creating_a_key_leaves_a_planned_replace_and_a_lock_taken_over(
    operator: User, admin: httpx.Client
) -> None:
    (operator.cwd / "spec.yaml").write_text(spec_text(1))
    # The key is stored, then its answer (with the one-time secret) is held back: the
    # process is killed while it waits, as a crash would.
    faults(
        admin,
        {
            "action": "commit_then_delay",
            "method": "POST",
            "path": "/repo/*/apikey",
            "delay_ms": 60_000,
        },
    )
    process = start(operator, "apply", "--yes", "--no-smoke", "spec.yaml")
    try:
        wait_for_a_key(admin)
        process.send_signal(signal.SIGKILL)
    finally:
        killed = finish(process, [])
    assert killed.code == -signal.SIGKILL
    admin.delete("/_emulator/faults").raise_for_status()
    assert (operator.cwd / ".fbplan" / "locks" / "interrupted.lock").exists()
    fingerprints = json.loads((operator.cwd / "fbplan.fingerprints.json").read_text())
    assert "interrupted/provider_key.aws" in fingerprints["fingerprints"]  # saved per step

    planned = operator.fbplan("plan", "--detailed-exitcode", "spec.yaml")
    assert planned.code == 2, planned.stderr
    assert f"-/+ {KEY} must be replaced" in planned.stdout
    assert "secret not in the sink: new credentials" in planned.stdout
    refused = operator.fbplan("apply", "--yes", "--no-smoke", "spec.yaml")
    assert refused.code == 3 and "--allow-delete" in refused.stderr
    assert "note: took over the lock of workspace interrupted" in refused.stderr
    assert f"pid {process.pid}" in refused.stderr
    applied = operator.fbplan("apply", "--yes", "--no-smoke", "--allow-delete", "spec.yaml")
    assert applied.code == 0, applied.stderr
    again = operator.fbplan("plan", "--detailed-exitcode", "spec.yaml")
    assert again.code == 0 and "untracked" not in again.stdout
    sink = json.loads((operator.cwd / "secrets.json").read_text())
    assert [k["key"] for k in live_keys(admin)] == [sink[KEY]["key"]]
    assert_no_secret(killed, planned, refused, applied, again)


def wait_for_a_key(admin: httpx.Client) -> None:
    for _ in range(600):  # a hang guard: the key is committed within a few requests
        if live_keys(admin):
            return
        time.sleep(0.05)
    raise AssertionError("the key create never reached the emulator")


def live_keys(admin: httpx.Client) -> list[dict[str, Any]]:
    repos = admin.get("/repo").json()["repos"]
    return [key for repo in repos for key in repo["apiKeys"]]


# -- Ctrl-C ---------------------------------------------------------------------------------------


def test_the_first_ctrl_c_lets_running_steps_finish_then_prints_the_summary_and_exits_130(
    operator: User, admin: httpx.Client
) -> None:
    (operator.cwd / "spec.yaml").write_text(spec_text(8))
    faults(admin, {"action": "latency", "method": "POST", "path": "/bucket", "latency_ms": 1500})
    process = start(operator, "apply", "--yes", "--no-smoke", "--parallelism", "2", "spec.yaml")
    seen: list[str] = []
    try:
        read_until(process.stderr, lambda line: "] bucket." in line and "Creating" in line, seen)
        process.send_signal(signal.SIGINT)
    finally:
        stopped = finish(process, seen)
    assert stopped.code == 130, stopped.stderr
    assert "Interrupted: no new step will start; waiting for the running ones" in stopped.stderr
    summary = stopped.stdout.strip().splitlines()[-1]
    done, not_started = (int(summary.split()[1]), int(summary.split()[7]))
    assert summary == f"Apply: {done} done, 0 failed, 0 skipped, {not_started} not started."
    assert done >= 2 and not_started >= 1 and done + not_started == 12
    started = stopped.stderr.count(": Creating...")
    assert started == stopped.stderr.count(": Creation complete") == done  # none half done
    assert "Not started (Ctrl-C):" in stopped.stderr
    assert not (operator.cwd / ".fbplan" / "locks" / "interrupted.lock").exists()
    admin.delete("/_emulator/faults").raise_for_status()
    planned = operator.fbplan("plan", "spec.yaml")
    assert f"Plan: {not_started} to create, 0 to update, 0 to replace" in planned.stdout
    applied = operator.fbplan("apply", "--yes", "--no-smoke", "spec.yaml")
    assert applied.code == 0 and "untracked" not in applied.stdout, applied.stderr
    assert_no_secret(stopped, planned, applied)


def test_a_second_ctrl_c_stops_at_once_naming_what_may_be_half_done(
    operator: User, admin: httpx.Client
) -> None:
    (operator.cwd / "spec.yaml").write_text(spec_text(4))
    faults(admin, {"action": "latency", "method": "POST", "path": "/bucket", "latency_ms": 30_000})
    process = start(operator, "apply", "--yes", "--no-smoke", "--parallelism", "2", "spec.yaml")
    seen: list[str] = []
    try:
        read_until(process.stderr, lambda line: "] bucket." in line and "Creating" in line, seen)
        process.send_signal(signal.SIGINT)
        read_until(process.stderr, lambda line: line.startswith("Interrupted:"), seen)
        process.send_signal(signal.SIGINT)
        stopped = finish(process, seen)  # long before the 30 s requests end: a hang guard
    finally:
        process.kill()
    assert stopped.code == 130
    assert (
        "Stopped at once. These steps were running and may be left half done: create "
        "bucket.b" in stopped.stderr
    )
    assert not (operator.cwd / ".fbplan" / "locks" / "interrupted.lock").exists()
    assert "Traceback" not in stopped.stderr
    assert_no_secret(stopped)


# -- saved plans are bound to their backend ---------------------------------------------------------


def test_a_plan_saved_with_local_is_refused_against_another_backend(
    operator: User, admin: httpx.Client
) -> None:
    (operator.cwd / "spec.yaml").write_text(spec_text(1))
    assert operator.fbplan("plan", "--local", "--out", "plan.json", "spec.yaml").code == 0
    refused = operator.fbplan("apply", "--yes", "--plan", "plan.json")
    assert refused.code == 3
    assert "the plan was made against the embedded emulator (--local)" in refused.stderr
    assert f"this run is against {operator.env['FB_BACKEND_URL']}" in refused.stderr
    assert admin.get("/workspace").json()["workspaces"] == []


# -- a property: random faults, then a kill at a random write ----------------------------------------


@settings(
    max_examples=4,  # each example runs fbplan four times in a subprocess
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    buckets=st.integers(1, 3),
    keys=st.integers(1, 3),
    kill_at=st.integers(1, 9),
    seed=st.integers(0, 10_000),
)
def test_after_faults_and_a_kill_no_duplicate_no_unplanned_lost_secret_no_leak(
    operator: User, admin: httpx.Client, buckets: int, keys: int, kill_at: int, seed: int
) -> None:
    fresh(operator, admin)
    spec = spec_text(buckets).replace(
        "    api_keys: {app-rw: {access: WRITE}}",
        "    api_keys: {" + ", ".join(f"k{i}: {{access: WRITE}}" for i in range(keys)) + "}",
    )
    (operator.cwd / "spec.yaml").write_text(spec)
    hold = {"action": "commit_then_delay", "method": "POST", "path": "/*", "delay_ms": 60_000}
    flaky = {"action": "commit_then_fail", "method": "POST", "path": "/*", "probability": 0.3}
    admin.put(
        "/_emulator/faults",
        json={"rules": [{**hold, "skip": kill_at - 1, "count": 1}, flaky], "seed": seed},
    ).raise_for_status()
    process = start(operator, "apply", "--yes", "--no-smoke", "spec.yaml")
    try:
        wait_for_the_held_write(admin, process)
        process.send_signal(signal.SIGKILL)
    finally:
        killed = finish(process, [])
    admin.delete("/_emulator/faults").raise_for_status()

    planned = operator.fbplan("plan", "--format", "json", "spec.yaml")
    assert planned.code == 0, planned.stderr
    changes = {c["address"]: c for c in json.loads(planned.stdout)["changes"]}
    sink = sink_entries(operator)
    for repo, name, key_id in live_key_triples(admin):
        address = f"repo.{repo}.api_key.{name}"
        if sink.get(address, {}).get("key") != key_id:  # a key whose secret is not kept...
            assert changes[address]["action"] == "replace", address  # ...is planned as new
            assert "secret not in the sink: new credentials" in changes[address]["reasons"]
    applied = operator.fbplan("apply", "--yes", "--no-smoke", "--allow-delete", "spec.yaml")
    assert applied.code == 0, applied.stderr
    again = operator.fbplan("plan", "--detailed-exitcode", "spec.yaml")
    assert again.code == 0, again.stdout
    assert_converged_without_duplicates(admin, operator, buckets, keys)
    assert_no_secret(killed, planned, applied, again)
    leaked = [s["secret"] for s in sink_entries(operator).values()]
    for run in (killed, planned, applied, again):
        assert not any(secret in run.stdout + run.stderr for secret in leaked)


def fresh(user: User, admin: httpx.Client) -> None:
    admin.post("/_emulator/reset").raise_for_status()
    for name in ("secrets.json", "fbplan.fingerprints.json"):
        (user.cwd / name).unlink(missing_ok=True)
    for lock in (user.cwd / ".fbplan" / "locks").glob("*"):
        lock.unlink()


def wait_for_the_held_write(admin: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    """Until the emulator holds the answer of the chosen write (it is committed by then), or
    the apply ended before making that many writes."""
    for _ in range(1200):  # a hang guard
        rules = admin.get("/_emulator/faults").json()["rules"]
        if rules[0]["fired"] or process.poll() is not None:
            time.sleep(0.2)  # the held request commits right after it is chosen
            return
        time.sleep(0.05)
    raise AssertionError("the apply neither reached the chosen write nor ended")


def sink_entries(user: User) -> dict[str, dict[str, str]]:
    path = user.cwd / "secrets.json"
    return json.loads(path.read_text()) if path.exists() else {}


def live_key_triples(admin: httpx.Client) -> list[tuple[str, str, str]]:
    repos = admin.get("/repo").json()["repos"]
    return [(repo["name"], key["name"], key["key"]) for repo in repos for key in repo["apiKeys"]]


def assert_converged_without_duplicates(
    admin: httpx.Client, user: User, buckets: int, keys: int
) -> None:
    workspaces = [w for w in admin.get("/workspace").json()["workspaces"]]
    assert [w["name"] for w in workspaces] == ["interrupted"]
    params = {"workspaceId": workspaces[0]["id"]}
    names = sorted(b["name"] for b in admin.get("/bucket", params=params).json()["buckets"])
    assert names == [f"b{i}" for i in range(buckets)]
    triples = live_key_triples(admin)
    assert sorted(name for _, name, _ in triples) == [f"k{i}" for i in range(keys)]
    sink = sink_entries(user)
    for repo, name, key_id in triples:
        assert sink[f"repo.{repo}.api_key.{name}"]["key"] == key_id
