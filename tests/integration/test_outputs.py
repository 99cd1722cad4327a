"""Outputs against the emulator: resolved from the live workspace and the secret sink, and
written to dotenv, JSON, GitHub Actions and AWS Secrets Manager (moto) targets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fbplan.errors import ConfigError
from fbplan.outputs import resolve
from fbplan.outputs.targets import write_targets
from fbplan.spec import load_spec

SPEC = """\
version: 1
workspace: outputs
buckets:
  media: {bucket: outputs-media, storage_type: S3, region: us-east-1, key: AKIAOUTPUTS,
          secret: "${file:bucket.secret}"}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    api_keys: {app-rw: {access: WRITE}}
secrets:
  sink: {type: json, path: secrets.json}
outputs:
  values:
    FB_S3_ENDPOINT: {bridge_endpoint: auto, repo: app}
    FB_KEY_ID: {key_id: repo.app.api_key.app-rw}
    FB_KEY_SECRET: {secret: repo.app.api_key.app-rw}
    FB_REPO_ID: {id: repo.app}
    FB_MODEL: {model: gpt-4o-mini, repo: app}
  targets:
    app: {type: dotenv, path: app.env}
    config: {type: json, path: out/app.json, values: [FB_REPO_ID, FB_KEY_ID]}
    ci: {type: github_env, values: [FB_KEY_ID, FB_KEY_SECRET]}
    ci-steps: {type: github_output, values: [FB_S3_ENDPOINT, FB_REPO_ID]}
"""
KEY = "repo.app.api_key.app-rw"


@pytest.fixture
def spec(harness: Any) -> Path:
    (harness.root / "bucket.secret").write_text("bucket-secret-for-outputs\n")
    path = harness.write(SPEC)
    assert harness.apply(path).ok
    return path


def stored(harness: Any) -> dict[str, str]:
    return json.loads((harness.root / "secrets.json").read_text())[KEY]


def write(harness: Any, spec: Path, env: dict[str, str] | None = None) -> list[str]:
    """Write the targets as apply does; return what was announced with ::add-mask::."""
    loaded = load_spec(spec)
    masked: list[str] = []
    write_targets(loaded, resolve(loaded, harness.connection), env=env or {}, mask=masked.append)
    return masked


def dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value.strip('"') for name, value in pairs}


def test_each_file_target_gets_its_values_from_the_live_workspace_and_the_sink(
    harness: Any, spec: Path
) -> None:
    write(harness, spec)
    repo_id = harness.prepare(spec).live.get("repo.app").id
    app = harness.root / "app.env"
    assert dotenv(app) == {
        "FB_S3_ENDPOINT": "https://s3-us-east-1-aws.flashback.tech",  # nothing advertised
        "FB_KEY_ID": stored(harness)["key"],
        "FB_KEY_SECRET": stored(harness)["secret"],
        "FB_REPO_ID": repo_id,
        "FB_MODEL": "gpt-4o-mini",
    }
    config = harness.root / "out" / "app.json"
    assert json.loads(config.read_text()) == {
        "FB_KEY_ID": stored(harness)["key"],
        "FB_REPO_ID": repo_id,
    }
    for path in (app, config):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_file_targets_keep_what_else_the_file_holds(harness: Any, spec: Path) -> None:
    (harness.root / "app.env").write_text('# mine\nOTHER="1"\nFB_KEY_ID="old"\n')
    (harness.root / "out").mkdir()
    (harness.root / "out" / "app.json").write_text('{"OTHER": "1", "FB_REPO_ID": "old"}')
    write(harness, spec)
    lines = (harness.root / "app.env").read_text().splitlines()
    assert lines[:2] == ["# mine", 'OTHER="1"']
    assert [line for line in lines if line.startswith("FB_KEY_ID=")] == [
        f'FB_KEY_ID="{stored(harness)["key"]}"'
    ]
    assert json.loads((harness.root / "out" / "app.json").read_text())["OTHER"] == "1"


def test_github_targets_mask_each_secret_before_writing_it_and_keep_secrets_from_outputs(
    harness: Any, spec: Path, tmp_path: Path
) -> None:
    github_env, github_output = tmp_path / "github_env", tmp_path / "github_output"
    github_env.write_text("EARLIER=1\n")
    written_when_masked: list[str] = []
    loaded = load_spec(spec)

    def mask(value: str) -> None:
        written_when_masked.append(github_env.read_text())
        assert value == stored(harness)["secret"]

    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_ENV": str(github_env),
        "GITHUB_OUTPUT": str(github_output),
    }
    write_targets(loaded, resolve(loaded, harness.connection), env=env, mask=mask)
    assert written_when_masked == ["EARLIER=1\n"]  # masked once, before the file had it
    assert github_env.read_text().splitlines() == [
        "EARLIER=1",
        f"FB_KEY_ID={stored(harness)['key']}",
        f"FB_KEY_SECRET={stored(harness)['secret']}",
    ]
    repo_id = harness.prepare(spec).live.get("repo.app").id
    assert github_output.read_text().splitlines() == [
        "FB_S3_ENDPOINT=https://s3-us-east-1-aws.flashback.tech",
        f"FB_REPO_ID={repo_id}",
    ]


def test_github_targets_are_skipped_outside_github_actions(harness: Any, spec: Path) -> None:
    loaded = load_spec(spec)
    outputs = resolve(loaded, harness.connection)
    masked: list[str] = []
    written = write_targets(loaded, outputs, env={}, mask=masked.append)
    skipped = {w.target: w.skipped for w in written if w.skipped}
    assert skipped == {
        "ci": "not running in GitHub Actions",
        "ci-steps": "not running in GitHub Actions",
    }
    runner = {"GITHUB_ACTIONS": "true", "GITHUB_ENV": str(harness.root / "github_env")}
    written = write_targets(loaded, outputs, env=runner, mask=masked.append)
    assert [w.skipped for w in written if w.skipped] == ["GITHUB_OUTPUT is not set"]
    assert masked == [stored(harness)["secret"]]  # only where the runner reads it


def test_aws_secrets_manager_target_holds_one_json_object(
    harness: Any, spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = spec.read_text().replace(
        "  targets:\n",
        "  targets:\n    vault: {type: aws_secretsmanager, name: acme/app, region: us-east-1}\n",
    )
    spec.write_text(text)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        write(harness, spec)
        write(harness, spec)  # a second apply updates the same secret
        client = boto3.client("secretsmanager", region_name="us-east-1")
        held = json.loads(client.get_secret_value(SecretId="acme/app")["SecretString"])
    assert held["FB_KEY_SECRET"] == stored(harness)["secret"]
    assert set(held) == {"FB_S3_ENDPOINT", "FB_KEY_ID", "FB_KEY_SECRET", "FB_REPO_ID", "FB_MODEL"}


def test_a_secret_the_sink_lost_fails_before_any_target_is_written(
    harness: Any, spec: Path
) -> None:
    (harness.root / "secrets.json").write_text("{}")
    with pytest.raises(ConfigError) as caught:
        write(harness, spec)
    assert str(caught.value).startswith(
        "outputs without a value (no outputs target was written): FB_KEY_SECRET: the secret "
        "sink (JSON file"
    )
    assert f"--rotate {KEY} --allow-delete" in str(caught.value)
    assert not (harness.root / "app.env").exists()
    assert not (harness.root / "out").exists()


def test_outputs_before_apply_name_what_does_not_exist_yet(harness: Any) -> None:
    (harness.root / "bucket.secret").write_text("bucket-secret-for-outputs\n")
    outputs = resolve(load_spec(harness.write(SPEC)), harness.connection)
    problems = {v.name: v.problem for v in outputs.values if v.value is None}
    assert (
        problems["FB_REPO_ID"] == "repo.app does not exist in workspace outputs (run fbplan apply)"
    )
    assert set(problems) == {"FB_S3_ENDPOINT", "FB_KEY_ID", "FB_KEY_SECRET", "FB_REPO_ID"}


def test_a_value_a_dotenv_file_cannot_carry_is_refused_by_name(harness: Any, spec: Path) -> None:
    spec.write_text(
        spec.read_text().replace("{model: gpt-4o-mini, repo: app}", "{value: 'say \"zqx\"'}")
    )
    with pytest.raises(ConfigError) as caught:
        write(harness, spec)
    assert str(caught.value).startswith("output FB_MODEL cannot be written to outputs target app")
    assert "zqx" not in str(caught.value)
    assert not (harness.root / "app.env").exists()


def test_smoke_checks_are_pinned_to_the_values_outputs_give(harness: Any, spec: Path) -> None:
    pins = resolve(load_spec(spec), harness.connection).pins()
    assert pins.endpoints == {
        "app": ("https://s3-us-east-1-aws.flashback.tech", "outputs FB_S3_ENDPOINT")
    }
    assert pins.models == {"app": ("gpt-4o-mini", "outputs FB_MODEL")}


def test_a_target_that_cannot_be_written_stops_apply_before_any_change(harness: Any) -> None:
    (harness.root / "bucket.secret").write_text("bucket-secret-for-outputs\n")
    (harness.root / "not-a-folder").write_text("a file where the target wants a folder\n")
    path = harness.write(SPEC.replace("path: app.env", "path: not-a-folder/app.env"))
    with pytest.raises(ConfigError) as caught:
        harness.apply(path)
    assert str(caught.value) == (
        f"outputs target app: the dotenv file {harness.root / 'not-a-folder' / 'app.env'} "
        f"cannot be written: {harness.root / 'not-a-folder'} is a file, not a folder; "
        "nothing was changed"
    )
    assert harness.plan(path).change("workspace").action.value == "create"  # nothing made
