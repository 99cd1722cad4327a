"""Drift: a change made directly on the backend is reported (exit 2); "apply, then drift"
is clean, whatever the server normalizes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fbplan.backend.client import BackendClient
from fbplan.cli.main import cli
from fbplan.plan.model import Action

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

EXAMPLES = Path(__file__).parents[2] / "examples"
SPEC = """\
version: 1
workspace: drift
buckets:
  media: {bucket: drift-media, storage_type: S3, region: us-east-1, key: AKIADRIFT, secret: "${env:DRIFT_SECRET}"}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    api_keys: {app-rw: {access: WRITE}}
policies:
  careful: {scope: workspace, risk: LOW, action: log, content: Be careful.}
secrets:
  sink: {type: dotenv, path: secrets.env}
"""


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_SECRET", "drift-bucket-secret-0042")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_in_process: Any) -> Path:
    """A working folder for CLI runs against an in-process emulator, with the spec applied."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC)
    result = run("apply", "spec.yaml", "--yes", "--no-smoke")
    assert result.exit_code == 0, result.stderr
    return tmp_path


@pytest.fixture
def backend(local: Path, cli_in_process: Any) -> Iterator[BackendClient]:
    """The emulator's backend, reached directly (not through fbplan)."""
    client = cli_in_process.client()
    yield client
    client.close()


def workspace_id(api: BackendClient) -> str:
    return next(w["id"] for w in api.get("/workspace")["workspaces"] if w["name"] == "drift")


def only(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


def test_apply_then_drift_is_clean(local: Path) -> None:
    result = run("drift", "spec.yaml")
    assert result.exit_code == 0, result.stdout
    assert "No drift." in result.stdout


def test_a_field_changed_on_the_backend_is_drift_with_exit_2(
    local: Path, backend: BackendClient
) -> None:
    policies = backend.get(
        "/policy",
        params={
            "orgId": backend.get("/user/profile")["data"]["orgId"],
            "workspaceId": workspace_id(backend),
        },
    )["policies"]
    backend.put(f"/policy/{only(policies, 'careful')['id']}", json={"riskType": "HIGH"})
    result = run("drift", "spec.yaml", "--format", "json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    (change,) = [c for c in report["changes"] if c["action"] != "no-op"]
    assert change["address"] == "policy.careful"
    assert [(f["field"], f["before"], f["after"]) for f in change["fields"]] == [
        ("risk", "HIGH", "LOW")
    ]


def test_a_deleted_and_an_added_object_are_drift(local: Path, backend: BackendClient) -> None:
    repo = only(backend.get("/repo", params={"workspaceId": workspace_id(backend)})["repos"], "app")
    key = only(repo["apiKeys"], "app-rw")
    backend.delete(f"/repo/{repo['id']}/apikey/{key['id']}")
    stray = {"repoId": repo["id"], "name": "stray", "accessType": "READ"}
    backend.post(f"/repo/{repo['id']}/apikey", json=stray)
    result = run("drift", "spec.yaml")
    assert result.exit_code == 2
    assert "repo.app.api_key.app-rw" in result.stdout  # missing
    assert "repo.app.api_key.stray" in result.stdout  # unmanaged
    assert "1 missing, 1 unmanaged" in result.stdout


def test_drift_is_clean_again_after_apply_repairs_it(local: Path, backend: BackendClient) -> None:
    repo = only(backend.get("/repo", params={"workspaceId": workspace_id(backend)})["repos"], "app")
    backend.put(
        f"/repo/{repo['id']}",
        json={
            "name": "app",
            "storageType": "S3",
            "mode": "MIRROR",
            "workspaceId": workspace_id(backend),
            "repoBuckets": [
                {"bucketId": b["bucketId"], "folder": b["folder"], "master": b["master"]}
                for b in repo["buckets"]
            ],
        },
    )
    assert run("drift", "spec.yaml").exit_code == 2
    assert run("apply", "spec.yaml", "--yes", "--no-smoke").exit_code == 0
    assert run("drift", "spec.yaml").exit_code == 0


def test_full_example_apply_then_drift_is_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_in_process: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFULLEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "full-example-aws-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-full-example-openai")
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLES / "full.yaml", tmp_path / "examples" / "full.yaml")
    applied = run("apply", "examples/full.yaml", "--yes", "--no-smoke")
    assert applied.exit_code == 0, applied.stderr
    drift = run("drift", "examples/full.yaml")
    assert drift.exit_code == 0, drift.stdout


def test_drift_reports_a_change_through_the_harness_as_live_to_spec(harness: Any) -> None:
    path = harness.write(SPEC)
    assert harness.apply(path).ok
    api = harness.api()
    workspace = next(w["id"] for w in api.get("/workspace")["workspaces"] if w["name"] == "drift")
    bucket = only(api.get("/bucket", params={"workspaceId": workspace})["buckets"], "media")
    full_body = {k: bucket[k] for k in ("name", "bucket", "storageType", "workspaceId", "key")}
    api.put(f"/bucket/{bucket['id']}", json={**full_body, "region": "eu-west-3"})
    change = harness.plan(path).change("bucket.media")
    assert change.action is Action.UPDATE
    assert [(f.field, f.before, f.after) for f in change.fields] == [
        ("region", "eu-west-3", "us-east-1")
    ]
