"""Smoke checks against the emulator over real HTTP: Bridge Node(s) with moto behind them and
the OpenAI-compatible gateway, with resources made by fbplan's own apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openai import OpenAI

from fbplan.cli.smoke import smoke as smoke_command
from fbplan.errors import ConfigError
from fbplan.smoke import SmokeReport, render_json, render_text
from fbplan.smoke.runner import run_smoke
from fbplan.stats import collect_stats
from fbplan.stats import render_json as stats_json
from fbplan.stats import render_text as stats_text
from fbplan.workflow import ApplyRequest, PlanRequest, apply_prepared, connect, prepare
from tests.integration import conftest_smoke as helpers

world = helpers.world  # the fixture: a started emulator, closed after the test

RW_SMOKE = "storage:\n  - {repo: app, api_key: app-rw}\n"
NO_MODEL = "ai:\n  - {repo: app, ai_api_key: app-ai}\n"


def smoke(world: Any, spec: Path, env: dict[str, str] | None = None, **kw: Any) -> SmokeReport:
    sleeps: list[float] = kw.pop("sleeps", [])
    report = run_smoke(world.load(spec), world.connection, env=env or {}, sleep=sleeps.append, **kw)
    helpers.assert_no_secret(world, render_text(report), render_json(report))
    return report


def steps(report: SmokeReport, index: int = 0) -> list[str]:
    return [s.name for s in report.targets[index].steps]


def test_apply_then_smoke_passes_and_the_bytes_show_in_the_statistics(world: Any) -> None:
    spec = world.write_spec()
    world.apply(spec)
    seen: list[tuple[str, str]] = []
    report = run_smoke(
        world.load(spec),
        world.connection,
        env={},
        on_step=lambda t, s: seen.append((t.name, s.name)),
    )
    assert report.ok, render_text(report)
    assert steps(report, 0) == ["credentials", "endpoint", "put", "get", "delete", "gone"]
    assert steps(report, 1) == ["credentials", "endpoint", "chat"]
    assert report.targets[0].endpoint == world.emulator.bridge_urls[0]
    assert report.targets[1].endpoint == world.emulator.gateway_url
    assert seen[0] == ("storage app/app-rw", "credentials") and len(seen) == 9
    written = int(report.targets[0].steps[2].message.split("(")[1].split(" ")[0])
    stats = collect_stats(world.load(spec), world.connection)
    [repo] = stats.repos
    assert repo.total.upload_bytes == written and repo.total.download_bytes == written
    assert repo.last_hour.upload_bytes == written
    assert [(u.repo, u.model, u.api_calls) for u in stats.ai] == [("app", "gpt-4o-mini", 1)]
    helpers.assert_no_secret(
        world, render_text(report), render_json(report), stats_text(stats), stats_json(stats)
    )


def test_two_local_runs_in_one_folder_each_smoke_through_their_own_bridge_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bucket.secret").write_text(helpers.BUCKET_SECRET)
    (tmp_path / "llm.secret").write_text(helpers.LLM_SECRET)
    spec = tmp_path / "spec.yaml"
    spec.write_text(helpers.spec_text(RW_SMOKE))
    with connect(local=True) as first:
        prepared = prepare(PlanRequest(spec), first)
        assert apply_prepared(prepared, first, ApplyRequest()).ok
        # A second --local run starts here (advertising its Bridge Node in the shared
        # store) and ends (its node stops) while the first is about to run its smoke.
        with connect(local=True) as second:
            assert second.local and first.local
            assert second.local.bridge_urls != first.local.bridge_urls
        report = run_smoke(prepared.spec, first, env={})
    assert report.ok, render_text(report)
    assert report.targets[0].endpoint == first.local.bridge_urls[0]


def test_a_read_only_key_fails_at_put_with_a_clear_message(world: Any) -> None:
    spec = world.write_spec(RW_SMOKE)
    world.apply(spec)
    loaded = world.load(spec)
    loaded.data["smoke"]["storage"][0]["api_key"] = "app-ro"  # validation would refuse it
    report = run_smoke(loaded, world.connection, env={})
    helpers.assert_no_secret(world, render_text(report), render_json(report))
    [target] = report.targets
    assert target.outcome == "failed" and target.failed_step.name == "put"
    problem = target.problem()
    assert "smoke storage app/app-ro failed at step put" in problem
    assert world.emulator.bridge_urls[0] in problem
    assert "the key app-ro has READ access; smoke writes need WRITE" in problem
    assert "Fix: set access: WRITE on repo.app.api_key.app-ro" in problem
    error = report.error()
    assert error is not None and error.exit_code == 4


def test_a_wrong_secret_fails_clearly(world: Any) -> None:
    spec = world.write_spec()
    world.apply(spec)
    key_id = world.sink()["repo.app.api_key.app-rw"]["key"]
    env = {"FB_KEY_ID": key_id, "FB_KEY_SECRET": "W" * 40}
    report = smoke(world, spec, env)
    target = report.targets[0]
    assert target.outcome == "failed" and target.failed_step.name == "put"
    assert "the secret does not match key app-rw" in target.problem()
    assert "SignatureDoesNotMatch" in target.problem()
    assert "FB_KEY_ID/FB_KEY_SECRET" in target.steps[0].message


def test_ai_smoke_refuses_a_storage_key_before_any_call(world: Any) -> None:
    spec = world.write_spec()
    world.apply(spec)
    loaded = world.load(spec)
    loaded.data["smoke"]["ai"][0]["ai_api_key"] = "app-rw"  # validation would refuse it
    with pytest.raises(ConfigError, match="'app-rw' is a storage API key of repo 'app'"):
        run_smoke(loaded, world.connection, env={})
    pair = world.sink()["repo.app.api_key.app-rw"]
    for value in (f"{pair['key']}:{pair['secret']}", pair["secret"]):
        with pytest.raises(ConfigError, match="looks like a storage key pair") as caught:
            run_smoke(world.load(spec), world.connection, env={"FB_OPENAI_API_KEY": value})
        helpers.assert_no_secret(world, str(caught.value))
    assert world.gateway_requests() == []


def test_ai_smoke_with_a_key_the_gateway_refuses_says_to_use_an_ai_key(world: Any) -> None:
    spec = world.write_spec("ai:\n  - {repo: app, ai_api_key: app-ai, model: gpt-4o-mini}\n")
    world.apply(spec)
    entries = world.sink()
    del entries["repo.app.ai_api_key.app-ai"]
    world.sink_path.write_text(json.dumps(entries))
    report = smoke(world, spec, {"FB_OPENAI_API_KEY": "sk-fb-not-a-live-key-000000000000"})
    [target] = report.targets
    assert target.outcome == "failed" and target.failed_step.name == "chat"
    assert "HTTP 401" in target.problem()
    assert "use a repository AI API key, not a storage key pair" in target.problem()


def test_ai_smoke_with_an_unknown_model_fails_clearly(world: Any) -> None:
    spec = world.write_spec("ai:\n  - {repo: app, ai_api_key: app-ai, model: no-such-model}\n")
    world.apply(spec)
    [target] = smoke(world, spec).targets
    assert target.outcome == "failed" and target.failed_step.name == "chat"
    assert "HTTP 404 model_not_found" in target.problem()
    assert "ends in /v1" in target.problem() and "no-such-model" in target.problem()


def test_an_ai_check_without_a_model_fails_at_chat_before_any_call(world: Any) -> None:
    spec = world.write_spec(NO_MODEL)
    world.apply(spec)
    report = smoke(world, spec)
    [target] = report.targets
    assert steps(report) == ["credentials", "endpoint", "chat"]
    assert target.outcome == "failed"
    assert target.problem() == (
        "smoke ai app/app-ai failed at step chat: no model: set smoke.ai[].model or FB_MODEL"
    )
    assert world.gateway_requests() == []


def test_fb_model_names_the_model_when_the_spec_does_not(world: Any) -> None:
    spec = world.write_spec(NO_MODEL)
    world.apply(spec)
    report = smoke(world, spec, {"FB_MODEL": "gpt-4o-mini"})
    assert report.ok, render_text(report)
    assert report.targets[0].steps[-1].message.startswith("gpt-4o-mini answered")
    with_model = world.write_spec(helpers.DEFAULT_SMOKE, name="with-model.yaml")
    [_, ai] = smoke(world, with_model, {"FB_MODEL": "no-such-model"}).targets
    assert ai.ok and ai.steps[-1].message.startswith("gpt-4o-mini answered")  # the spec's wins


def test_a_429_burst_at_the_bridge_is_waited_out(world: Any) -> None:
    spec = world.write_spec("storage:\n  - {repo: app, api_key: app-rw}\n")
    world.apply(spec)
    burst = {"action": "throttle", "service": "bridge", "method": "PUT", "count": 2}
    world.emulator.faults.set_rules([{**burst, "retry_after": 1}])
    sleeps: list[float] = []
    report = smoke(world, spec, sleeps=sleeps)
    [target] = report.targets
    assert target.ok, render_text(report)
    throttled = [
        e
        for e in world.emulator.recorder.entries()
        if e["service"] == "bridge" and e["status"] == 429
    ]
    assert len(throttled) == 2  # the whole burst was met, and waited out
    # Newer botocore retries a 429 itself within its 3 attempts; older ones leave it to the
    # smoke check, which honours Retry-After. Either way the wait is bounded and reported.
    assert sleeps in ([], [1.0, 1.0])
    assert target.waited_seconds == sum(sleeps)
    assert steps(report).count("wait") == len(sleeps)


def test_a_long_429_burst_blocks_the_target_within_the_bound(world: Any) -> None:
    spec = world.write_spec("storage:\n  - {repo: app, api_key: app-rw}\n")
    world.apply(spec)
    world.emulator.faults.set_rules([{"action": "throttle", "service": "bridge", "count": 99}])
    sleeps: list[float] = []
    report = smoke(world, spec, sleeps=sleeps, max_wait_seconds=3.5)
    [target] = report.targets
    assert target.outcome == "blocked" and sum(sleeps) == target.waited_seconds <= 3.5
    assert "is blocked by quota at step put" in target.problem()
    assert f"waited {target.waited_seconds:.1f} s in all" in target.problem()
    assert report.error() is not None


def test_a_429_burst_at_the_gateway_is_waited_out(world: Any) -> None:
    spec = world.write_spec("ai:\n  - {repo: app, ai_api_key: app-ai, model: gpt-4o-mini}\n")
    world.apply(spec)
    rule = {"action": "throttle", "service": "gateway", "count": 2, "retry_after": 1}
    world.emulator.faults.set_rules([rule])
    sleeps: list[float] = []

    def no_sdk_retries(base_url: str, api_key: str, timeout: float) -> OpenAI:
        return OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)

    report = smoke(world, spec, sleeps=sleeps, openai_factory=no_sdk_retries)
    assert report.ok and sleeps == [1.0, 1.0]


def test_the_cli_exits_4_with_the_target_step_endpoint_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = helpers.applied_through_cli(tmp_path, RW_SMOKE)
    runner = CliRunner()
    key_id = json.loads((tmp_path / "secrets.json").read_text())["repo.app.api_key.app-rw"]["key"]
    wrong = {"FB_KEY_ID": key_id, "FB_KEY_SECRET": "W" * 40}
    result = runner.invoke(smoke_command, [str(spec), "--local", "--format", "json"], env=wrong)
    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["targets"][0]["outcome"] == "failed"
    assert "Error: smoke storage app/app-rw failed at step put at http://" in result.stderr
    assert "the secret does not match key app-rw" in result.stderr
    sink = json.loads((tmp_path / "secrets.json").read_text())
    for entry in sink.values():
        assert entry["secret"] not in result.output
    assert helpers.BUCKET_SECRET not in result.output


def test_the_cli_exits_0_when_every_check_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = helpers.applied_through_cli(tmp_path)
    runner = CliRunner()
    result = runner.invoke(smoke_command, [str(spec), "--local"])
    assert result.exit_code == 0, result.output
    assert "Smoke: 2 checks, 2 passed." in result.stdout
    assert "storage app/app-rw: put ok" in result.stderr
    for entry in json.loads((tmp_path / "secrets.json").read_text()).values():
        assert entry["secret"] not in result.output
