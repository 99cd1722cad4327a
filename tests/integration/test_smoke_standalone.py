"""Smoke checks against a standalone emulator (`fbplan emulator`) reached only by its URL, as
with `FB_BACKEND_URL=http://127.0.0.1:8787`: no embedded-emulator shortcut, so the Bridge
Nodes and the AI gateway used are the ones the backend advertises (`GET /node`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fbplan.backend.client import BackendClient
from fbplan.emulator.store_nodes import SERVICE_AI
from fbplan.smoke import SmokeReport, render_json, render_text
from fbplan.smoke.ai import default_openai_client
from fbplan.smoke.runner import run_smoke
from fbplan.smoke.storage import default_s3_client
from fbplan.workflow import ApplyRequest, Connection, PlanRequest, apply_prepared, prepare
from tests.integration import conftest_smoke as helpers

AI_ONLY = "ai:\n  - {repo: app, ai_api_key: app-ai, model: gpt-4o-mini}\n"
GATEWAY_NODE = "openai-us-east-1-aws"  # the id the emulator advertises its gateway under


class Standalone:
    """A started emulator, and a connection that knows only its backend URL and token."""

    def __init__(self, world: helpers.SmokeWorld) -> None:
        self.world = world
        emulator = world.emulator
        self.connection = Connection(BackendClient(emulator.backend_url, emulator.token))
        self.used: list[tuple[str, str]] = []  # (service, URL) of every client made

    def apply(self, smoke: str = helpers.DEFAULT_SMOKE) -> Path:
        spec = self.world.write_spec(smoke)
        prepared = prepare(PlanRequest(spec), self.connection)
        report = apply_prepared(prepared, self.connection, ApplyRequest())
        assert report.ok, report.summary()
        return spec

    def smoke(self, spec: Path, openai_factory: Any = default_openai_client) -> SmokeReport:
        def s3(endpoint: str, key_id: str, secret: str) -> Any:
            self.used.append(("s3", endpoint))
            return default_s3_client(endpoint, key_id, secret)

        def openai(base_url: str, api_key: str, timeout: float) -> Any:
            self.used.append(("openai", base_url))
            return openai_factory(base_url, api_key, timeout)

        report = run_smoke(
            self.world.load(spec),
            self.connection,
            env={},
            s3_client_factory=s3,
            openai_factory=openai,
            sleep=lambda _: None,
        )
        helpers.assert_no_secret(self.world, render_text(report), render_json(report))
        return report


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    world = helpers.start_world(tmp_path)
    started = Standalone(world)
    yield started
    started.connection.close()
    world.close()


def endpoint_step(report: SmokeReport, index: int) -> Any:
    return next(s for s in report.targets[index].steps if s.name == "endpoint")


def test_auto_uses_the_advertised_bridge_and_gateway_and_never_leaves_the_machine(
    standalone: Standalone,
) -> None:
    emulator = standalone.world.emulator
    report = standalone.smoke(standalone.apply())
    assert report.ok, render_text(report)
    assert report.targets[0].endpoint == emulator.bridge_urls[0]
    assert report.targets[1].endpoint == emulator.gateway_url
    assert standalone.used == [("s3", emulator.bridge_urls[0]), ("openai", emulator.gateway_url)]
    reason = endpoint_step(report, 1).message
    assert reason.startswith(
        "base URL from the AI gateway the backend advertises (GET /node?nodeServices=2): "
        f"chose {emulator.gateway_url}"
    )
    assert standalone.world.gateway_requests()  # the chat went to the emulator's gateway


def test_the_online_gateway_with_the_lowest_latency_is_chosen(standalone: Standalone) -> None:
    spec = standalone.apply(AI_ONLY)
    store, gateway = standalone.world.emulator.store, standalone.world.emulator.gateway_url
    store.update_node(GATEWAY_NODE, latency_ms=30)
    store.set_node("ai-fast-offline", "http://127.0.0.1:9", "eu", "aws", 5, "OFFLINE",
                   services=SERVICE_AI)  # fmt: skip
    store.set_node("ai-slow", "http://127.0.0.1:19/v1", "eu", "gcp", 60, "ONLINE",
                   services=SERVICE_AI)  # fmt: skip
    report = standalone.smoke(spec)
    assert report.ok, render_text(report)
    assert standalone.used == [("openai", gateway)]
    assert endpoint_step(report, 0).message.endswith(
        f"chose {gateway} (30 ms) over http://127.0.0.1:19/v1 (60 ms)"
    )


class _Unreachable(Exception):
    """Stands in for the openai SDK's APIConnectionError: no request leaves the test."""


class _NoNetwork:
    def __init__(self) -> None:
        self.chat = self
        self.completions = self
        self.with_raw_response = self

    def create(self, **_: Any) -> Any:
        raise _Unreachable("no network in this test")


def test_the_gateway_pattern_is_used_only_when_no_gateway_is_advertised(
    standalone: Standalone,
) -> None:
    spec = standalone.apply(AI_ONLY)
    standalone.world.emulator.store.remove_node(GATEWAY_NODE)
    report = standalone.smoke(spec, openai_factory=lambda *_: _NoNetwork())
    pattern = "https://openai-us-east-1-aws.flashback.tech/v1"
    assert standalone.used == [("openai", pattern)]
    assert endpoint_step(report, 0).message == (
        "base URL from the gateway pattern: the backend advertises no AI gateway node "
        "(GET /node?nodeServices=2) (set base_url or FB_OPENAI_BASE_URL to choose)"
    )
    assert standalone.world.gateway_requests() == []


def test_fb_openai_base_url_still_wins_over_the_advertised_gateway(
    standalone: Standalone,
) -> None:
    spec = standalone.apply(AI_ONLY)
    loaded = standalone.world.load(spec)
    elsewhere = "http://127.0.0.1:9/v1"
    report = run_smoke(
        loaded,
        standalone.connection,
        env={"FB_OPENAI_BASE_URL": elsewhere},
        openai_factory=lambda *_: _NoNetwork(),
        sleep=lambda _: None,
    )
    step = endpoint_step(report, 0)
    assert (step.endpoint, step.message) == (elsewhere, "base URL from FB_OPENAI_BASE_URL")
