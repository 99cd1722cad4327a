"""Secrets against the emulator: fingerprints, --rotate, sinks, and no secret value in any
output a user or a CI log sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from fbplan.cli.main import cli
from fbplan.errors import ConfigError, SafetyError
from fbplan.plan.model import Action
from fbplan.secrets import values as secret
from fbplan.secrets.sinks import AwsSecretsManagerSink
from fbplan.secrets.values import MASK
from fbplan.workflow import ApplyRequest, apply_prepared

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

AWS_SECRET = "leak-canary-AWS-7f3a9c"
AWS_SECRET_2 = "leak-canary-AWS-rotated-41d0"
OPENAI_SECRET = "leak-canary-OPENAI-2b8e51"
FILE_SECRET = "leak-canary-FILE-93c7aa"

SPEC = """\
version: 1
workspace: secrets
provider_keys:
  aws: {provider: AWS, key: AKIASECRETS, secret: "${env:AWS_SECRET_ACCESS_KEY}", region: us-east-1}
buckets:
  media: {bucket: secrets-media, storage_type: S3, provider_key: aws, region: us-east-1}
  logs: {bucket: secrets-logs, storage_type: S3, region: us-east-1, key: AKIALOGS, secret: "${file:bucket.secret}"}
ai_llms:
  gpt: {ai_type: OPENAI, endpoint: "https://api.openai.com/v1", secret: "${env:OPENAI_API_KEY}"}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    ai_llms: [gpt]
    api_keys: {app-rw: {access: WRITE}}
    ai_api_keys: {app-ai: {ai_type: OPENAI}}
secrets:
  sink: {type: json, path: secrets.json}
"""
KEY = "repo.app.api_key.app-rw"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)


@pytest.fixture
def spec(harness: Any) -> Path:
    (harness.root / "bucket.secret").write_text(FILE_SECRET + "\n")
    return harness.write(SPEC)


@pytest.fixture
def applied(harness: Any, spec: Path) -> Path:
    report = harness.apply(spec)
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    return spec


def sink_entry(harness: Any, address: str = KEY) -> dict[str, str]:
    return json.loads((harness.root / "secrets.json").read_text())[address]


def live_keys(harness: Any, spec: Path) -> list[dict[str, Any]]:
    repo_id = harness.prepare(spec).live.get("repo.app").id
    return harness.api().get(f"/repo/{repo_id}/apikey")["keys"]


# -- fingerprints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "address"),
    [("AWS_SECRET_ACCESS_KEY", "provider_key.aws"), ("OPENAI_API_KEY", "ai_llm.gpt")],
)
def test_changed_secret_in_the_environment_is_an_update_through_the_fingerprint(
    harness: Any, applied: Path, monkeypatch: pytest.MonkeyPatch, variable: str, address: str
) -> None:
    assert not harness.plan(applied).has_changes
    monkeypatch.setenv(variable, AWS_SECRET_2)
    plan = harness.plan(applied)
    assert [(c.address, c.action) for c in plan.actionable] == [(address, Action.UPDATE)]
    (field,) = plan.change(address).fields
    assert (field.field, field.before, field.after, field.sensitive) == ("secret", MASK, MASK, True)
    assert harness.apply(applied).ok
    assert not harness.plan(applied).has_changes


def test_fingerprints_of_one_workspace_never_hide_a_change_in_another(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (harness.root / "bucket.secret").write_text(FILE_SECRET + "\n")
    only_key = SPEC.split("buckets:")[0].replace("workspace: secrets", "workspace: s-${var:env}")
    spec = harness.write(only_key)
    for env in ("staging", "prod"):
        assert harness.apply(spec, cli_vars={"env": env}).ok
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_2)
    assert harness.apply(spec, cli_vars={"env": "staging"}).ok
    prod = harness.plan(spec, cli_vars={"env": "prod"})
    assert [(c.address, c.action) for c in prod.actionable] == [("provider_key.aws", Action.UPDATE)]


def test_a_changed_secret_file_is_an_update_of_the_bucket(harness: Any, applied: Path) -> None:
    (harness.root / "bucket.secret").write_text("another-file-secret-77\n")
    plan = harness.plan(applied)
    assert [(c.address, c.action) for c in plan.actionable] == [("bucket.logs", Action.UPDATE)]


def test_without_fingerprints_a_secret_is_untracked_not_changed(
    harness: Any, applied: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.connection.fingerprint_path.unlink()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_2)
    plan = harness.plan(applied)
    assert not plan.has_changes
    assert any(
        "provider_key.aws: secret is untracked" in note and "--rotate provider_key.aws" in note
        for note in plan.notes
    )


def test_the_fingerprint_file_holds_no_secret_value(harness: Any, applied: Path) -> None:
    text = harness.connection.fingerprint_path.read_text()
    assert "provider_key.aws" in text
    for value in (AWS_SECRET, OPENAI_SECRET, FILE_SECRET):
        assert value not in text


# -- rotation ----------------------------------------------------------------------------


def test_rotating_a_key_replaces_it_and_the_sink_gets_the_new_secret(
    harness: Any, applied: Path
) -> None:
    old = sink_entry(harness)
    change = harness.plan(applied, rotate=[KEY]).change(KEY)
    assert change.action is Action.REPLACE and change.new_credentials
    assert "rotation requested (--rotate)" in change.reasons
    report = harness.apply(applied, rotate=[KEY], allow_delete=True)
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    new = sink_entry(harness)
    assert new["key"] != old["key"] and new["secret"] != old["secret"]
    assert [k["key"] for k in live_keys(harness, applied)] == [new["key"]]  # the old key is gone
    assert harness.store.find_repo_api_key_by_key(new["key"])["secret"] == new["secret"]
    assert not harness.plan(applied).has_changes


def test_rotating_a_write_only_secret_rewrites_it_in_place(harness: Any, applied: Path) -> None:
    live_id = harness.prepare(applied).live.get("provider_key.aws").id
    plan = harness.plan(applied, rotate=["provider_key.aws"])
    change = plan.change("provider_key.aws")
    assert change.action is Action.UPDATE
    assert [(f.field, f.sensitive) for f in change.fields] == [("secret", True)]
    assert harness.apply(applied, rotate=["provider_key.aws"]).ok
    assert harness.prepare(applied).live.get("provider_key.aws").id == live_id


def test_rotating_what_has_no_secret_is_refused(harness: Any, applied: Path) -> None:
    with pytest.raises(ConfigError, match="no secret to rotate"):
        harness.plan(applied, rotate=["repo.app"])


def test_rotating_a_key_without_a_sink_fails_before_the_old_key_is_deleted(
    harness: Any, applied: Path
) -> None:
    applied.write_text(SPEC.split("secrets:")[0])
    prepared = harness.prepare(applied, rotate=[KEY])
    assert [b.rule for b in prepared.plan.blockers] == ["secret-sink"]
    with pytest.raises(SafetyError, match=r"no secrets\.sink"):
        apply_prepared(prepared, harness.connection, ApplyRequest(allow_delete=True))
    assert [k["key"] for k in live_keys(harness, applied)] == [sink_entry(harness)["key"]]


# -- sinks -------------------------------------------------------------------------------


def test_a_sink_that_cannot_be_written_stops_apply_before_any_key_exists(
    harness: Any, spec: Path
) -> None:
    (harness.root / "not-a-folder").write_text("")
    spec.write_text(SPEC.replace("path: secrets.json", "path: not-a-folder/secrets.json"))
    with pytest.raises(ConfigError, match=r"cannot be written: .* is a file, not a folder"):
        harness.apply(spec)
    assert harness.api().get("/workspace")["workspaces"] == []


def test_a_sink_write_failure_names_the_key_id_and_how_to_rotate_it(
    harness: Any, spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fbplan.secrets.sinks._write_private", disk_full)
    report = harness.apply(spec)
    failed = {str(r.step): r.message for r in report.of("failed")}
    assert set(failed) == {f"create {KEY}", "create repo.app.ai_api_key.app-ai"}
    key_id = harness.prepare(spec).live.get(KEY).id
    message = failed[f"create {KEY}"]
    assert key_id in message and f"--rotate {KEY}" in message
    assert sink_entry_absent(harness)

    monkeypatch.undo()  # the sink fixed: rotating the orphaned key converges
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    rotate = [KEY, "repo.app.ai_api_key.app-ai"]
    assert harness.apply(spec, rotate=rotate, allow_delete=True).ok
    assert [k["key"] for k in live_keys(harness, spec)] == [sink_entry(harness)["key"]]


def sink_entry_absent(harness: Any) -> bool:
    return not (harness.root / "secrets.json").exists()


def test_dotenv_sink_keeps_the_entries_already_in_the_file(harness: Any, spec: Path) -> None:
    (harness.root / "app.env").write_text('UNRELATED="keep-me"\n')
    spec.write_text(
        SPEC.replace("{type: json, path: secrets.json}", "{type: dotenv, path: app.env}")
    )
    assert harness.apply(spec).ok
    text = (harness.root / "app.env").read_text()
    assert 'UNRELATED="keep-me"' in text
    key = live_keys(harness, spec)[0]["key"]
    assert f'APP_API_KEY_APP_RW_KEY_ID="{key}"' in text


def test_aws_secrets_manager_sink_receives_each_new_key(
    harness: Any, spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)  # also the spec's env secret
    aws_sink = "{type: aws_secretsmanager, prefix: fbplan/secrets, region: us-east-1}"
    spec.write_text(SPEC.replace("{type: json, path: secrets.json}", aws_sink))
    with mock_aws():
        assert harness.apply(spec).ok
        client = boto3.client("secretsmanager", region_name="us-east-1")
        stored = json.loads(
            client.get_secret_value(SecretId=f"fbplan/secrets/{KEY}")["SecretString"]
        )
        assert stored["key"] == live_keys(harness, spec)[0]["key"] and stored["secret"]
        assert AwsSecretsManagerSink("fbplan/secrets", "us-east-1").read(KEY) == stored


# -- no secret value in any output ---------------------------------------------------------


@pytest.fixture
def cli_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working folder for `--local` runs, and a fresh redaction registry (as in a new
    process), so that what the CLI masks it masks by itself."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(secret, "_known", set())
    (tmp_path / "bucket.secret").write_text(FILE_SECRET + "\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


CANARIES = (AWS_SECRET, AWS_SECRET_2, OPENAI_SECRET, FILE_SECRET)


def test_no_secret_value_reaches_any_output_or_file(
    cli_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {
        "plan": run("plan", "--local", "spec.yaml", "--out", "plan.json"),
        "plan-json": run("plan", "--local", "spec.yaml", "--format", "json"),
        "plan-markdown": run("plan", "--local", "spec.yaml", "--format", "markdown"),
        "apply-planfile": run("apply", "--local", "--plan", "plan.json", "--yes"),
    }
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_2)
    results |= {
        "drift": run("drift", "--local", "spec.yaml"),
        "drift-json": run("drift", "--local", "spec.yaml", "--format", "json"),
        "drift-markdown": run("drift", "--local", "spec.yaml", "--format", "markdown"),
        "plan-changed": run("plan", "--local", "spec.yaml", "--format", "json", "--out", "p2.json"),
        "apply-changed": run(
            "apply", "--local", "spec.yaml", "--yes", "--allow-delete", "--rotate", KEY
        ),
        "drift-after": run("drift", "--local", "spec.yaml"),
    }
    (cli_dir / "not-a-folder").write_text("")
    (cli_dir / "spec.yaml").write_text(SPEC.replace("path: secrets.json", "path: not-a-folder/s"))
    results["error-sink"] = run(
        "apply", "--local", "spec.yaml", "--yes", "--allow-delete", "--rotate", KEY
    )
    (cli_dir / "spec.yaml").write_text(SPEC.replace("region: us-east-1}", "region: [oops]}", 1))
    results["error-spec"] = run("plan", "--local", "spec.yaml")
    (cli_dir / "spec.yaml").write_text(
        SPEC.replace('endpoint: "https://api.openai.com/v1"', 'endpoint: "${env:OPENAI_API_KEY}"')
    )
    results["error-tainted"] = run("plan", "--local", "spec.yaml")

    codes = {name: r.exit_code for name, r in results.items()}
    assert codes == {
        "plan": 0,
        "plan-json": 0,
        "plan-markdown": 0,
        "apply-planfile": 0,
        "drift": 2,
        "drift-json": 2,
        "drift-markdown": 2,
        "plan-changed": 0,
        "apply-changed": 0,
        "drift-after": 0,
        "error-sink": 1,
        "error-spec": 1,
        "error-tainted": 1,
    }, {name: r.stderr for name, r in results.items()}
    assert "secret: (sensitive value changed)" in results["drift"].stdout
    assert (
        "secret sink, the JSON file not-a-folder/s, cannot be written"
        in results["error-sink"].stderr
    )
    for name, result in results.items():
        for value in CANARIES:
            assert value not in result.stdout, name
            assert value not in result.stderr, name
    sink = cli_dir / "secrets.json"
    files = [p for p in cli_dir.rglob("*") if p.is_file() and not p.name.startswith("emulator.db")]
    assert sink in files and cli_dir / ".fbplan" / "local.fingerprints.json" in files
    for path in files:
        if path in (sink, cli_dir / "bucket.secret"):
            continue
        text = path.read_text(errors="replace")
        for value in CANARIES:
            assert value not in text, path
