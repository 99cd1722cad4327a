"""`endpoint: auto` on an emulator advertising two Bridge Nodes with different latencies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fbplan.smoke import SmokeReport, render_json, render_text
from fbplan.smoke.runner import run_smoke
from tests.integration import conftest_smoke as helpers

STORAGE_ONLY = "storage:\n  - {repo: app, api_key: app-rw, endpoint: auto}\n"


def two_nodes(us_ms: float, eu_ms: float) -> list[dict[str, Any]]:
    return [
        {"id": "s3-us-east-1-aws", "region": "us-east-1", "provider": "aws", "latency_ms": us_ms},
        {"id": "s3-eu-central-1-aws", "region": "eu-central-1", "latency_ms": eu_ms},
    ]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    worlds: list[Any] = []

    def start_world(us_ms: float, eu_ms: float) -> Any:
        world = helpers.start_world(tmp_path, bridge_nodes=two_nodes(us_ms, eu_ms))
        worlds.append(world)
        spec = world.write_spec(STORAGE_ONLY)
        world.apply(spec)
        return world, spec

    yield start_world
    for world in worlds:
        world.close()


def smoke(world: Any, spec: Path, env: dict[str, str] | None = None) -> SmokeReport:
    report = run_smoke(world.load(spec), world.connection, env=env or {}, sleep=lambda _: None)
    helpers.assert_no_secret(world, render_text(report), render_json(report))
    assert report.ok, render_text(report)
    return report


def endpoint_step(report: SmokeReport) -> Any:
    return next(s for s in report.targets[0].steps if s.name == "endpoint")


def test_auto_picks_the_faster_advertised_node(start: Any) -> None:
    world, spec = start(60, 5)
    slow, fast = world.emulator.bridge_urls
    report = smoke(world, spec)
    assert report.targets[0].endpoint == fast
    assert endpoint_step(report).message == f"chose {fast} (5 ms) over {slow} (60 ms)"


def backend_paths(world: Any) -> list[str]:
    return [e["path"] for e in world.emulator.recorder.entries() if e["service"] == "backend"]


def test_fb_s3_endpoint_is_used_even_when_another_node_is_much_faster(start: Any) -> None:
    world, spec = start(40, 10)
    slow, _ = world.emulator.bridge_urls
    world.emulator.recorder.clear()
    report = smoke(world, spec, {"FB_S3_ENDPOINT": slow})
    assert report.targets[0].endpoint == slow
    step = endpoint_step(report)
    assert (step.endpoint, step.message) == (slow, "explicit endpoint from FB_S3_ENDPOINT")
    assert "/node" not in backend_paths(world)  # no telemetry is read for an explicit URL


def test_an_endpoint_in_the_spec_is_used_as_it_is(start: Any) -> None:
    world, _ = start(40, 10)
    slow, _ = world.emulator.bridge_urls
    explicit = f"storage:\n  - {{repo: app, api_key: app-rw, endpoint: '{slow}'}}\n"
    spec = world.write_spec(explicit, name="explicit.yaml")
    report = smoke(world, spec, {"FB_S3_ENDPOINT": "http://127.0.0.1:9"})
    assert report.targets[0].endpoint == slow
    assert endpoint_step(report).message == "explicit endpoint from the spec"


def test_a_second_auto_target_keeps_the_previous_choice_of_the_run(start: Any) -> None:
    world, _ = start(60, 5)
    slow, fast = world.emulator.bridge_urls
    twice = (
        "storage:\n  - {repo: app, api_key: app-rw, endpoint: auto}\n"
        "  - {repo: app, api_key: app-rw}\n"
    )
    spec = world.write_spec(twice, name="twice.yaml")
    world.emulator.recorder.clear()
    report = smoke(world, spec)
    first, second = (
        next(s for s in t.steps if s.name == "endpoint").message for t in report.targets
    )
    assert first == f"chose {fast} (5 ms) over {slow} (60 ms)"
    assert second == (
        f"kept {fast} (5 ms) from the previous choice: {slow} (60 ms) is not 20% faster"
    )
    assert backend_paths(world).count("/node") == 1  # telemetry is read once per run


def test_a_node_that_is_not_online_is_skipped(start: Any) -> None:
    world, spec = start(40, 5)
    slow, _ = world.emulator.bridge_urls
    world.emulator.store.update_node("s3-eu-central-1-aws", status="OFFLINE")
    report = smoke(world, spec)
    assert report.targets[0].endpoint == slow


def test_an_unavailable_node_sends_the_check_to_the_next_one(start: Any) -> None:
    """boto3 makes at most 3 requests (its own jittered retries), then the next node is tried."""
    world, spec = start(40, 5)
    slow, fast = world.emulator.bridge_urls
    rule = {"action": "error", "status": 503, "service": "bridge", "count": 3}
    world.emulator.faults.set_rules([rule])
    report = smoke(world, spec)
    names = [s.name for s in report.targets[0].steps]
    assert names[:4] == ["credentials", "endpoint", "put", "switch"]
    assert report.targets[0].steps[2].endpoint == fast
    assert "the Bridge Node is unavailable: HTTP 503" in report.targets[0].steps[2].message
    assert report.targets[0].endpoint == slow
    bridge = [e for e in world.emulator.recorder.entries() if e["service"] == "bridge"]
    assert [e["status"] for e in bridge[:4]] == [503, 503, 503, 200]


def test_on_the_emulator_endpoints_of_the_real_platform_are_ignored(tmp_path: Path) -> None:
    world = helpers.start_world(tmp_path)
    try:
        spec = world.write_spec()
        world.apply(spec)
        env = {
            "FB_S3_ENDPOINT": "https://s3-us-east-1-aws.flashback.tech",
            "FB_OPENAI_BASE_URL": "https://openai-us-east-1-aws.flashback.tech/v1",
        }
        report = smoke(world, spec, env)
        storage, ai = report.targets
        assert storage.endpoint == world.emulator.bridge_urls[0]
        assert ai.endpoint == world.emulator.gateway_url
        assert (
            "FB_S3_ENDPOINT ignored: --local uses the embedded emulator"
            in endpoint_step(report).message
        )
        assert "ignored" in ai.steps[1].message
    finally:
        world.close()
