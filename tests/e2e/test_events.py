"""Events and progress as a CI job or a person sees them: `apply`/`destroy --format json`
and `drift --format events` against an emulator on real ports whose fault rules make a
step fail or crawl; every line is checked against the published schema, and no secret
appears. Then the text lines ("[n/N]", the heartbeat) and, at a terminal, the live display."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from fbplan.emulator.server import RunningEmulator, start_emulator
from fbplan.events import load_schema
from tests.e2e.conftest import Run, User

pytestmark = pytest.mark.e2e

TOKEN = "events-test-token"
PROVIDER_SECRET = "events-provider-secret-5e1f0a"
SPEC = """\
version: 1
workspace: events
%s
provider_keys:
  aws: {provider: AWS, key: AKIAEVENTS, secret: "${env:EVENTS_SECRET}", region: us-east-1}
buckets:
  b0: {bucket: events-b0, storage_type: S3, provider_key: aws, region: us-east-1}
%s
repos:
  app:
    storage_type: S3
    mode: %s
    buckets: [{bucket: b0, folder: b0, master: true}]
    api_keys: {app-rw: {access: WRITE}}
secrets:
  sink: {type: json, path: secrets.json}
smoke:
  storage: [{repo: app, api_key: app-rw}]
"""
B1 = "  b1: {bucket: events-b1, storage_type: S3, provider_key: aws, region: us-east-1}"


def write_spec(user: User, *, b1: bool = True, mode: str = "NORMAL", prune: bool = False) -> None:
    text = SPEC % ("prune: true" if prune else "", B1 if b1 else "", mode)
    (user.cwd / "spec.yaml").write_text(text)


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
    user.env.update(
        FB_BACKEND_URL=emulator.backend_url, FB_JWT=TOKEN, EVENTS_SECRET=PROVIDER_SECRET
    )
    write_spec(user)
    return user


def faults(admin: httpx.Client, *rules: dict[str, Any]) -> None:
    admin.put("/_emulator/faults", json={"rules": list(rules)}).raise_for_status()


def events_of(run: Run) -> list[dict[str, Any]]:
    """Every stdout line as an event, each checked against the schema; the summary last,
    with the exit code the command ended with; no secret anywhere."""
    schema = load_schema()
    events = [json.loads(line) for line in run.stdout.splitlines()]
    for event in events:
        jsonschema.validate(event, schema)
    assert events and events[-1]["type"] == "summary"
    assert events[-1]["exit_code"] == run.code
    assert PROVIDER_SECRET not in run.stdout + run.stderr
    return events


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def test_a_failed_step_and_its_skipped_dependents_are_counted_then_a_rerun_converges(
    operator: User, admin: httpx.Client
) -> None:
    # One step at a time, in address order: bucket.b0 is the first bucket created and the
    # one the fault hits; the repo on it and the repo's key are skipped; bucket.b1 is not.
    faults(
        admin, {"action": "error", "status": 400, "method": "POST", "path": "/bucket", "count": 1}
    )
    failed = operator.fbplan(
        "apply", "--yes", "--parallelism", "1", "--format", "json", "spec.yaml"
    )
    assert failed.code == 1, failed.stderr
    events = events_of(failed)
    started = events[0]
    assert started["type"] == "run_started"
    assert (started["command"], started["workspace"], started["steps"]) == ("apply", "events", 6)
    assert started["counts"] == {"create": 6, "update": 0, "replace": 0, "delete": 0}
    assert started["backend"].startswith("http://127.0.0.1:")
    [bad] = of_type(events, "step_failed")
    assert (bad["address"], bad["kind"], bad["action"]) == ("bucket.b0", "bucket", "create")
    assert "HTTP 400" in bad["error"] and "\n" not in bad["error"]
    skipped = of_type(events, "step_skipped")
    assert {e["address"] for e in skipped} == {"repo.app", "repo.app.api_key.app-rw"}
    assert all("bucket.b0" in e["reason"] for e in skipped)
    numbered = of_type(events, "step_started") + skipped
    assert sorted(e["step"] for e in numbered) == [1, 2, 3, 4, 5, 6]
    assert {e["steps"] for e in numbered} == {6}
    summary = events[-1]
    assert summary["counts"] == {"done": 3, "failed": 1, "skipped": 2, "not_started": 0}
    assert not of_type(events, "smoke_result")  # no smoke after a failed apply
    assert "Plan: 6 to create" in failed.stderr  # for people: stderr, not among the events

    rerun = operator.fbplan("apply", "--yes", "--format", "json", "spec.yaml")
    assert rerun.code == 0, rerun.stderr
    events = events_of(rerun)
    assert events[0]["counts"]["create"] == 3
    assert {e["address"] for e in of_type(events, "step_completed")} == {
        "bucket.b0",
        "repo.app",
        "repo.app.api_key.app-rw",
    }
    [smoke] = of_type(events, "smoke_result")
    assert (smoke["check"], smoke["outcome"], smoke["address"]) == (
        "storage",
        "passed",
        "repo.app.api_key.app-rw",
    )
    assert events[-1]["counts"] == {
        "done": 3,
        "failed": 0,
        "skipped": 0,
        "not_started": 0,
        "smoke_passed": 1,
    }
    key_secret = json.loads((operator.cwd / "secrets.json").read_text())["repo.app.api_key.app-rw"][
        "secret"
    ]
    assert len(key_secret) > 8 and key_secret not in rerun.stdout + rerun.stderr


def test_text_steps_are_numbered_and_a_slow_step_says_it_is_still_running(
    operator: User, admin: httpx.Client
) -> None:
    faults(admin, {"action": "latency", "method": "POST", "path": "/repo", "latency_ms": 2500})
    operator.env["FBPLAN_HEARTBEAT_SECONDS"] = "0.2"
    applied = operator.fbplan("apply", "--yes", "--no-smoke", "spec.yaml")
    assert applied.code == 0, applied.stderr
    steps = [line for line in applied.stderr.splitlines() if re.search(r": (Creat|Still)", line)]
    assert len(steps) > 12  # started and completed, for each of the 6, and heartbeats
    assert all(re.match(r"\[[1-6]/6\] ", line) for line in steps), steps
    assert re.search(r"^\[5/6\] repo\.app: Still creating\.\.\. \(\d", applied.stderr, re.M)
    assert applied.stdout.rstrip().endswith("Apply: 6 done, 0 failed, 0 skipped.")
    assert PROVIDER_SECRET not in applied.stdout + applied.stderr

    faults(admin)
    destroyed = operator.fbplan("destroy", "--yes", "--format", "json", "spec.yaml")
    assert destroyed.code == 0, destroyed.stderr
    events = events_of(destroyed)
    assert events[0]["command"] == "destroy" and events[0]["counts"]["delete"] == 6
    assert {e["action"] for e in of_type(events, "step_completed")} == {"delete"}
    assert events[-1]["command"] == "destroy"
    assert events[-1]["counts"] == {"done": 6, "failed": 0, "skipped": 0, "not_started": 0}


def test_a_blocked_apply_ends_its_events_with_the_reason_and_exit_3(
    operator: User, admin: httpx.Client
) -> None:
    assert operator.fbplan("apply", "--yes", "--no-smoke", "spec.yaml").code == 0
    unchanged = operator.fbplan("apply", "--yes", "--no-smoke", "--format", "json", "spec.yaml")
    assert unchanged.code == 0, unchanged.stderr
    assert [e["type"] for e in events_of(unchanged)] == ["run_started", "summary"]
    write_spec(operator, b1=False, prune=True)
    blocked = operator.fbplan("apply", "--yes", "--format", "json", "spec.yaml")
    assert blocked.code == 3, blocked.stderr
    events = events_of(blocked)
    assert [e["type"] for e in events] == ["run_started", "summary"]
    assert events[0]["counts"]["delete"] == 1
    assert "--allow-delete" in events[-1]["error"]


def test_drift_events_name_each_drifted_resource_and_the_report_stays_one_document(
    operator: User, admin: httpx.Client
) -> None:
    assert operator.fbplan("apply", "--yes", "--no-smoke", "spec.yaml").code == 0
    write_spec(operator, b1=False, mode="MIRROR")
    drift = operator.fbplan("drift", "--format", "events", "spec.yaml")
    assert drift.code == 2, drift.stderr
    events = events_of(drift)
    assert [e["type"] for e in events] == ["run_started", "drift", "drift", "summary"]
    assert events[0]["command"] == "drift" and "steps" not in events[0]
    drifted = {e["address"]: e for e in of_type(events, "drift")}
    assert drifted["repo.app"] | {"time": ""} == {
        "version": 1,
        "type": "drift",
        "time": "",
        "address": "repo.app",
        "kind": "repo",
        "drift": "changed",
        "action": "update",
        "fields": ["mode"],
    }
    assert (drifted["bucket.b1"]["drift"], drifted["bucket.b1"]["action"]) == ("unmanaged", "none")
    assert events[-1]["counts"] == {"changed": 1, "missing": 0, "unmanaged": 1}

    report = operator.fbplan("drift", "--format", "json", "spec.yaml")
    assert report.code == 2
    assert json.loads(report.stdout)["kind"] == "drift"  # the documented report, unchanged


def test_at_a_terminal_a_live_display_replaces_the_line_stream_and_the_summary_ends_it(
    user: User,
) -> None:
    shown = user.terminal("apply", "--local", "--yes", "--no-smoke", "examples/quickstart.yaml")
    assert shown.code == 0, shown.stdout
    assert "Applying" in shown.stderr and "/4" in shown.stderr  # the display was drawn
    screen = shown.stdout.rstrip().splitlines()
    addresses = ["workspace", "bucket.media", "repo.app", "repo.app.api_key.app-rw"]
    assert [re.sub(r"after \d+\.\ds$", "after Ns", line) for line in screen[-5:]] == [
        *(
            f"[{n}/4] {address}: Creation complete after Ns"
            for n, address in enumerate(addresses, 1)
        ),
        "Apply: 4 done, 0 failed, 0 skipped.",
    ]
    assert "Creating..." not in shown.stdout  # the display showed those; it is gone


def test_a_spec_error_in_json_mode_is_a_summary_with_the_sentence_and_exit_1(user: User) -> None:
    (user.cwd / "spec.yaml").write_text("version: 1\nworkspace: w\nbuckets: {b: {bucket: x}}\n")
    failed = user.fbplan("apply", "--yes", "--format", "json", "spec.yaml")
    assert failed.code == 1
    [summary] = events_of(failed)
    assert summary["command"] == "apply" and summary["counts"] == {}
    assert "spec.yaml:3" in failed.stderr and "Traceback" not in failed.stderr
