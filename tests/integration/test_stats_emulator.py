"""`collect_stats` and `fbplan stats` against the emulator, after real smoke traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fbplan.cli.smoke import stats as stats_command
from fbplan.smoke.runner import run_smoke
from fbplan.stats import collect_stats, render_json, render_text, to_int
from tests.integration import conftest_smoke as helpers

world = helpers.world  # the fixture: a started emulator, closed after the test


def test_to_int_reads_decimal_strings() -> None:
    assert [to_int(v) for v in ("12345678901234567890", 7, None, "", "3.0")] == [
        12345678901234567890,
        7,
        0,
        0,
        3,
    ]


def test_stats_after_smoke_traffic(world: Any) -> None:
    spec = world.write_spec()
    world.apply(spec)
    assert run_smoke(world.load(spec), world.connection, env={}).ok
    report = collect_stats(world.load(spec), world.connection)
    [repo], [bucket] = report.repos, report.buckets
    assert repo.name == "app" and repo.total.upload_bytes > 0
    assert repo.total.download_bytes == repo.total.upload_bytes
    assert repo.last_hour.upload_bytes == repo.total.upload_bytes and repo.last_hour_minutes >= 1
    assert bucket.name == "media" and bucket.total.upload_bytes == repo.total.upload_bytes
    [node] = report.nodes
    assert (node.node_id, node.status, node.buckets) == ("s3-us-east-1-aws", "ONLINE", ("media",))
    assert node.url == world.emulator.bridge_urls[0] and node.latency_ms == 0
    [usage] = report.ai
    assert (usage.repo, usage.model, usage.api_calls) == ("app", "gpt-4o-mini", 1)
    assert usage.tokens_in > 0 and usage.tokens_out > 0
    data = json.loads(render_json(report))
    assert isinstance(data["repos"][0]["total"]["upload_bytes"], int)
    assert isinstance(data["ai"][0]["tokens_in"], int)
    text = render_text(report)
    assert "Repositories (totals and the last hour)" in text and "gpt-4o-mini" in text
    assert "s3-us-east-1-aws" in text and "ONLINE" in text
    helpers.assert_no_secret(world, text, render_json(report))


def test_objects_not_applied_yet_are_noted(world: Any) -> None:
    spec = world.write_spec()
    report = collect_stats(world.load(spec), world.connection)
    assert report.repos == [] and report.buckets == []
    assert "repo app does not exist in workspace smoke-it yet" in report.notes
    assert "note: bucket media does not exist" in render_text(report)
    paths = [e["path"] for e in world.emulator.recorder.entries()]
    assert "/node" in paths and "/stats/nodes/minute" not in paths  # no bucket to ask about


def test_the_stats_command_prints_json_with_integer_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = helpers.applied_through_cli(tmp_path)
    runner = CliRunner()
    result = runner.invoke(stats_command, [str(spec), "--local", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["workspace"] == "smoke-it"
    assert data["repos"][0]["total"] == {
        "upload_bytes": 0,
        "download_bytes": 0,
        "size_change_bytes": 0,
    }
    text = runner.invoke(stats_command, [str(spec), "--local"])
    assert text.exit_code == 0 and "Statistics of workspace smoke-it" in text.stdout
    for entry in json.loads((tmp_path / "secrets.json").read_text()).values():
        assert entry["secret"] not in result.output + text.output


def test_stats_and_smoke_read_only_the_kinds_they_need(world: Any) -> None:
    spec = world.write_spec()
    world.apply(spec)
    recorder = world.emulator.recorder

    def lists() -> set[str]:
        paths = {e["path"] for e in recorder.entries() if e["service"] == "backend"}
        recorder.clear()
        return {p for p in paths if p in ("/policy", "/apikeys", "/ai/llm", "/bucket", "/repo")}

    recorder.clear()
    collect_stats(world.load(spec), world.connection)
    assert lists() == {"/bucket", "/repo"}
    assert run_smoke(world.load(spec), world.connection, env={}).ok
    assert lists() == {"/bucket", "/repo"}
