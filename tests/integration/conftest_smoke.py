"""Helpers for the smoke and stats integration tests: a real emulator on free ports (backend,
Bridge Node(s) with moto behind them, AI gateway), a spec applied with fbplan itself, and a
leak check.

Test modules import this file (`from tests.integration import conftest_smoke as helpers`)
and its `world` fixture (`from tests.integration.conftest_smoke import world`).
"""

from __future__ import annotations

import json
import secrets
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fbplan.apply.executor import ApplyReport
from fbplan.backend.client import BackendClient
from fbplan.emulator.server import RunningEmulator, start_emulator
from fbplan.smoke.endpoints import LocalEndpoints
from fbplan.spec import Spec, load_spec
from fbplan.workflow import ApplyRequest, Connection, PlanRequest, apply_prepared, prepare

BUCKET_SECRET = "bucket-secret-value-never-printed"
LLM_SECRET = "sk-upstream-llm-secret-never-printed"

SPEC = """\
version: 1
workspace: smoke-it
buckets:
  media:
    bucket: smoke-it-media
    storage_type: S3
    region: us-east-1
    key: AKIASMOKEINTEGRATION
    secret: ${{file:bucket.secret}}
ai_llms:
  openai: {{ai_type: OPENAI, endpoint: "https://api.openai.com/v1", secret: "${{file:llm.secret}}"}}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets:
      - {{bucket: media, folder: media, master: true}}
    ai_llms: [openai]
    api_keys:
      app-rw: {{access: WRITE}}
      app-ro: {{access: READ}}
    ai_api_keys:
      app-ai: {{ai_type: OPENAI}}
secrets:
  sink: {{type: json, path: secrets.json}}
smoke:
{smoke}
"""

DEFAULT_SMOKE = """\
  storage:
    - {repo: app, api_key: app-rw, endpoint: auto}
  ai:
    - {repo: app, ai_api_key: app-ai, model: gpt-4o-mini}
"""


def spec_text(smoke: str = DEFAULT_SMOKE) -> str:
    """The spec with `smoke` (YAML at any indentation) as its smoke section."""
    return SPEC.format(smoke=textwrap.indent(textwrap.dedent(smoke), "  "))


@dataclass
class SmokeWorld:
    """A spec folder, a started emulator and a connection to it."""

    root: Path
    emulator: RunningEmulator
    connection: Connection

    @property
    def sink_path(self) -> Path:
        return self.root / "secrets.json"

    def write_spec(self, smoke: str = DEFAULT_SMOKE, name: str = "spec.yaml") -> Path:
        path = self.root / name
        path.write_text(spec_text(smoke))
        return path

    def apply(self, spec: Path) -> ApplyReport:
        prepared = prepare(PlanRequest(spec), self.connection)
        report = apply_prepared(prepared, self.connection, ApplyRequest())
        assert report.ok, report.summary()
        return report

    def load(self, spec: Path) -> Spec:
        return load_spec(spec)

    def sink(self) -> dict[str, dict[str, str]]:
        return dict(json.loads(self.sink_path.read_text()))

    def secrets(self) -> list[str]:
        """Every secret value the test world knows: key secrets and provider secrets."""
        values = [entry["secret"] for entry in self.sink().values()]
        return [*values, BUCKET_SECRET, LLM_SECRET, self.emulator.token]

    def gateway_requests(self) -> list[Mapping[str, Any]]:
        return [e for e in self.emulator.recorder.entries() if e.get("service") == "gateway"]

    def close(self) -> None:
        self.connection.close()


def start_world(
    root: Path,
    *,
    bridge_nodes: Sequence[Mapping[str, Any]] | None = None,
    faults: Sequence[Mapping[str, Any]] | None = None,
) -> SmokeWorld:
    (root / "bucket.secret").write_text(BUCKET_SECRET)
    (root / "llm.secret").write_text(LLM_SECRET)
    token = secrets.token_urlsafe(24)
    emulator = start_emulator(root / "emulator.db", token, bridge_nodes=bridge_nodes, faults=faults)
    client = BackendClient(emulator.backend_url, token, sleep=lambda _: None)
    local = LocalEndpoints(tuple(emulator.bridge_urls), emulator.gateway_url)
    return SmokeWorld(root, emulator, Connection(client, local, root / "fingerprints.json"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SmokeWorld]:
    """A started emulator with one Bridge Node, closed after the test."""
    started = start_world(tmp_path)
    yield started
    started.close()


def assert_no_secret(world: SmokeWorld, *texts: str) -> None:
    """The leak check of every integration test: no secret value in any output."""
    for text in texts:
        for value in world.secrets():
            assert value not in text, "a secret value leaked into the output"


def applied_through_cli(folder: Path, smoke: str = DEFAULT_SMOKE) -> Path:
    """In `folder` (the current one): the spec and its secret files, applied with
    `fbplan apply --local` (no smoke), as a user would before running smoke or stats."""
    from click.testing import CliRunner

    from fbplan.cli.main import cli

    (folder / "bucket.secret").write_text(BUCKET_SECRET)
    (folder / "llm.secret").write_text(LLM_SECRET)
    spec = folder / "spec.yaml"
    spec.write_text(spec_text(smoke))
    applied = CliRunner().invoke(cli, ["apply", "--local", "--yes", "--no-smoke", str(spec)])
    assert applied.exit_code == 0, applied.output
    return spec
