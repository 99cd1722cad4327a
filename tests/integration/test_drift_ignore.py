"""The spec's `ignore` section: accepted drift is counted, never planned, never exit 2;
and `approve:`, deletes and replaces approved in review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fbplan.cli.main import cli
from fbplan.plan.model import Action

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

SPEC = """\
version: 1
workspace: quiet
buckets:
  media: {bucket: quiet-media, storage_type: S3, region: us-east-1, key: AKIAQUIET, secret: "${env:QUIET_SECRET}"}
  logs: {bucket: quiet-logs, storage_type: S3, region: us-east-1, key: AKIAQUIET, secret: "${env:QUIET_SECRET}"}
"""
IGNORE = """\
ignore:
  changes:
    bucket.media: [region]
  unmanaged:
    buckets: ["tmp-*"]
"""


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIET_SECRET", "quiet-bucket-secret-0042")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def workspace_id(api: Any) -> str:
    return next(w["id"] for w in api.get("/workspace")["workspaces"] if w["name"] == "quiet")


def bucket(api: Any, name: str) -> dict[str, Any]:
    buckets = api.get("/bucket", params={"workspaceId": workspace_id(api)})["buckets"]
    return next(b for b in buckets if b["name"] == name)


def move_region(api: Any, name: str, region: str) -> None:
    found = bucket(api, name)
    body = {k: found[k] for k in ("name", "bucket", "storageType", "workspaceId", "key")}
    api.put(f"/bucket/{found['id']}", json={**body, "region": region})


def add_stray(api: Any, name: str) -> None:
    body = {
        "name": name,
        "bucket": f"quiet-{name}",
        "storageType": "S3",
        "workspaceId": workspace_id(api),
        "region": "us-east-1",
        "key": "AKIASTRAY",
        "secret": "stray-secret-value",
    }
    api.post("/bucket", json=body)


def test_ignored_field_and_accepted_object_are_counted_not_planned(harness: Any) -> None:
    path = harness.write(SPEC + IGNORE)
    assert harness.apply(path).ok
    api = harness.api()
    move_region(api, "media", "eu-west-3")
    add_stray(api, "tmp-scratch")
    plan = harness.plan(path)
    assert not plan.has_changes and not plan.unmanaged
    assert [(i.address, i.rule) for i in plan.ignored] == [
        ("bucket.media", "ignore.changes.bucket.media"),
        ("bucket.tmp-scratch", "ignore.unmanaged.buckets: tmp-*"),
    ]
    assert [(f.field, f.before, f.after) for f in plan.ignored[0].fields] == [
        ("region", "eu-west-3", "us-east-1")
    ]


def test_an_update_of_another_field_keeps_the_ignored_live_value(harness: Any) -> None:
    path = harness.write(SPEC + IGNORE)
    assert harness.apply(path).ok
    move_region(harness.api(), "media", "eu-west-3")
    harness.write(SPEC.replace("key: AKIAQUIET, secret", "key: AKIANEW, secret", 1) + IGNORE)
    change = harness.plan(path).change("bucket.media")
    assert change is not None and change.action is Action.UPDATE
    assert [f.field for f in change.fields] == ["key"]
    assert harness.apply(path).ok
    assert bucket(harness.api(), "media")["region"] == "eu-west-3"
    assert not harness.plan(path).has_changes


def test_an_accepted_pattern_is_not_pruned(harness: Any) -> None:
    path = harness.write(SPEC + IGNORE + "prune: {buckets: true}\n")
    assert harness.apply(path).ok
    add_stray(harness.api(), "tmp-keep")
    add_stray(harness.api(), "other")
    plan = harness.plan(path)
    assert [(c.address, c.action) for c in plan.actionable] == [("bucket.other", Action.DELETE)]


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC + IGNORE)
    result = run("apply", "--local", "spec.yaml", "--yes", "--no-smoke")
    assert result.exit_code == 0, result.stderr
    return tmp_path


def local_api(root: Path) -> Any:
    import httpx

    from fbplan.backend.client import BackendClient
    from fbplan.emulator.api import create_backend_app
    from fbplan.emulator.store import Store

    app = create_backend_app(Store(str(root / ".fbplan" / "local-emulator.db")), "direct")
    return BackendClient("http://direct.test", "direct", transport=httpx.WSGITransport(app=app))


def test_drift_counts_ignored_drift_exits_0_and_lists_it_in_verbose_mode(local: Path) -> None:
    api = local_api(local)
    move_region(api, "media", "eu-west-3")
    add_stray(api, "tmp-one")
    result = run("drift", "--local", "spec.yaml")
    assert result.exit_code == 0, result.stdout
    assert "No drift (2 ignored)." in result.stdout
    assert "tmp-one" not in result.stdout
    verbose = run("drift", "--local", "spec.yaml", "--verbose")
    assert "bucket.tmp-one (ignore.unmanaged.buckets: tmp-*)" in verbose.stdout
    assert 'region: "eu-west-3" -> "us-east-1"' in verbose.stdout
    document = json.loads(run("drift", "--local", "spec.yaml", "--format", "json").stdout)
    assert document["summary"]["ignored"] == 2
    assert {i["address"] for i in document["ignored"]} == {"bucket.media", "bucket.tmp-one"}


def test_drift_not_ignored_still_exits_2_and_says_how_much_was_ignored(local: Path) -> None:
    api = local_api(local)
    move_region(api, "logs", "eu-west-3")
    add_stray(api, "tmp-one")
    result = run("drift", "--local", "spec.yaml")
    assert result.exit_code == 2
    assert "Drift: 1 changed, 0 missing, 0 unmanaged (1 ignored)." in result.stdout


def test_plan_detailed_exitcode_is_0_when_only_ignored_fields_differ(local: Path) -> None:
    move_region(local_api(local), "media", "eu-west-3")
    result = run("plan", "--local", "spec.yaml", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout


def test_validate_refuses_a_secret_or_unknown_field_and_warns_of_an_entry_matching_nothing(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC + "ignore:\n  changes:\n    buckets: [secret, regoin]\n")
    result = run("validate", str(spec))
    assert result.exit_code == 1
    assert "secret is a secret field: its changes are never ignored" in result.stderr
    assert "a bucket has no field regoin (did you mean region?)" in result.stderr
    assert f"{spec}:" in result.stderr
    spec.write_text(
        SPEC
        + "ignore:\n  changes:\n    bucket.meda: [region]\n    repos: [mode]\n"
        + "  unmanaged:\n    buckets: [med*]\n"
    )
    result = run("validate", str(spec))
    assert result.exit_code == 0, result.stderr
    assert "ignore.changes.bucket.meda: the spec declares no bucket.meda" in result.stderr
    assert "ignore.unmanaged.buckets: med* matches declared buckets (media)" in result.stderr
    assert "ignore.changes.repos: the spec declares no repos; it ignores nothing" in result.stderr
