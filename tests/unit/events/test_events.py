"""Events as data: every kind of event validates against the published schema, steps are
numbered as they start or are skipped, a slow step gets heartbeats, the text lines read as
documented, and no registered secret survives into a JSON line."""

from __future__ import annotations

import json
import threading

import jsonschema
import pytest

from fbplan.cli.progress import step_line
from fbplan.errors import ConfigError
from fbplan.events import (
    Drifted,
    Event,
    RunStarted,
    SmokeResult,
    StepEvent,
    StepTracker,
    Summary,
    heartbeat_interval,
    load_schema,
    to_dict,
    to_json,
)
from fbplan.plan.graph import Step
from fbplan.secrets.values import register
from tests.e2e.conftest import REPO

EVERY_KIND: list[Event] = [
    RunStarted("apply", "acme", "local", {"create": 2, "update": 0}, 3),
    RunStarted("drift", "acme", "https://backend.example", {"changed": 1}),
    StepEvent("step_started", "bucket.a", "bucket", "create", 1, 3),
    StepEvent("step_running", "bucket.a", "bucket", "create", 1, 3, duration_ms=10_000),
    StepEvent("step_completed", "bucket.a", "bucket", "create", 1, 3, duration_ms=120),
    StepEvent("step_failed", "repo.r", "repo", "update", 2, 3, duration_ms=5, error="HTTP 400."),
    StepEvent("step_skipped", "repo.r.api_key.k", "repo_api_key", "create", 3, 3, reason="x"),
    SmokeResult("storage", "storage r/k", "repo.r.api_key.k", "passed", 90, "http://n"),
    SmokeResult("ai", "ai r/a", "repo.r.ai_api_key.a", "failed", 9, None, "chat failed."),
    Drifted("repo.r", "repo", "changed", "update", ("mode",)),
    Drifted("bucket.x", "bucket", "unmanaged", "none"),
    Summary("apply", {"done": 1, "failed": 1, "skipped": 1}, 1, 800),
    Summary("destroy", {}, 3, 20, "blocked (protect): workspace is protected"),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: e.type)
def test_every_kind_of_event_is_one_line_the_schema_accepts(event: Event) -> None:
    line = to_json(event)
    assert "\n" not in line
    document = json.loads(line)
    jsonschema.validate(document, load_schema())
    assert (document["version"], document["type"]) == (1, event.type)
    assert list(document)[:3] == ["version", "type", "time"]


def test_the_schema_rejects_what_a_reader_could_not_use() -> None:
    schema = load_schema()
    failed = to_dict(EVERY_KIND[5])
    del failed["error"]
    for broken in (failed, {**to_dict(EVERY_KIND[0]), "version": 2}, {"type": "summary"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_the_schema_in_the_checkout_is_the_packaged_one() -> None:
    assert json.loads((REPO / "schemas" / "events.schema.json").read_text()) == load_schema()


def test_a_registered_secret_never_reaches_a_json_line() -> None:
    secret = "evt-secret-4b1d9c2e77"
    register(secret)
    event = StepEvent("step_failed", "bucket.a", "bucket", "create", 1, 1, 3, f"echo {secret}")
    line = to_json(event)
    assert secret not in line and json.loads(line)["error"].startswith("echo ")


def test_steps_are_numbered_as_they_start_or_are_skipped_and_keep_their_number() -> None:
    seen: list[StepEvent] = []
    a, b, c = Step("bucket.a", "create"), Step("repo.r", "create"), Step("repo.r.k", "create")
    kinds = {"bucket.a": "bucket", "repo.r": "repo"}
    with StepTracker(kinds, 3, seen.append, interval=3600) as tracker:  # type: ignore[arg-type]
        tracker(a, "start")
        assert tracker.running() == [a]
        tracker(a, "failed", "HTTP 400.")
        tracker(b, "skipped", "skipped because create bucket.a did not succeed")
        tracker(c, "skipped", "skipped because create bucket.a did not succeed")
        assert tracker.running() == []
    assert [(e.type, e.address, e.step, e.steps) for e in seen] == [
        ("step_started", "bucket.a", 1, 3),
        ("step_failed", "bucket.a", 1, 3),
        ("step_skipped", "repo.r", 2, 3),
        ("step_skipped", "repo.r.k", 3, 3),
    ]
    assert (seen[1].error, seen[1].kind) == ("HTTP 400.", "bucket")
    assert seen[1].duration_ms is not None and seen[1].duration_ms >= 0
    assert seen[2].reason == "skipped because create bucket.a did not succeed"


def test_a_slow_step_gets_heartbeats_until_it_ends() -> None:
    beats: list[StepEvent] = []
    two_beats = threading.Event()

    def emit(event: Event) -> None:
        assert isinstance(event, StepEvent)
        beats.append(event)
        if sum(e.type == "step_running" for e in beats) == 2:
            two_beats.set()

    step = Step("repo.r", "update")
    with StepTracker({"repo.r": "repo"}, 1, emit, interval=0.01) as tracker:
        tracker(step, "start")
        assert two_beats.wait(timeout=30)  # a hang guard, not a measure of time
        tracker(step, "done", "0.5s")
        count = len(beats)
    running = [e for e in beats if e.type == "step_running"]
    assert {(e.address, e.action, e.step) for e in running} == {("repo.r", "update", 1)}
    assert [e.duration_ms for e in running] == sorted(e.duration_ms or 0 for e in running)
    assert beats[count - 1].type == "step_completed" and len(beats) == count  # none after


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (EVERY_KIND[2], "[1/3] bucket.a: Creating..."),
        (EVERY_KIND[3], "[1/3] bucket.a: Still creating... (10 s elapsed)"),
        (EVERY_KIND[4], "[1/3] bucket.a: Creation complete after 0.1s"),
        (EVERY_KIND[5], "[2/3] repo.r: Update failed after 0.0s: HTTP 400."),
        (
            StepEvent("step_skipped", "repo.r.k", "repo_api_key", "create", 3, 3, reason="why"),
            "[3/3] repo.r.k: create why",
        ),
        (
            StepEvent("step_running", "bucket.a", "bucket", "delete", 4, 9, duration_ms=2500),
            "[4/9] bucket.a: Still destroying... (2.5 s elapsed)",
        ),
    ],
)
def test_step_lines_read_as_documented(event: StepEvent, line: str) -> None:
    assert step_line(event) == line


@pytest.mark.parametrize("value", ["0", "-1", "soon", "1e9", "nan"])
def test_a_bad_heartbeat_interval_is_one_sentence(value: str) -> None:
    with pytest.raises(ConfigError, match="FBPLAN_HEARTBEAT_SECONDS"):
        heartbeat_interval({"FBPLAN_HEARTBEAT_SECONDS": value})


def test_the_heartbeat_interval_defaults_to_ten_seconds() -> None:
    assert heartbeat_interval({}) == 10.0
    assert heartbeat_interval({"FBPLAN_HEARTBEAT_SECONDS": "0.5"}) == 0.5
