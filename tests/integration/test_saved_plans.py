"""Saved plans against the emulator: a plan file is carried out only against the live state
it was made from, and `plan --detailed-exitcode` says whether anything is left to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fbplan.cli.main import cli
from fbplan.errors import SafetyError
from fbplan.plan.planfile import load_plan, save_plan
from fbplan.workflow import ApplyRequest, apply_prepared

SPEC = """\
version: 1
workspace: reviewed
buckets:
  media: {bucket: reviewed-media, storage_type: S3, key: AKIAREVIEW, secret: "${env:REVIEW_SECRET}",
          region: us-east-1}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
"""


pytestmark = pytest.mark.usefixtures("fast_fingerprints")


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_SECRET", "reviewed-provider-secret-4417")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def add_unmanaged_bucket(harness: Any) -> None:
    """A bucket made behind fbplan's back (in the console, say): the plan's changes stay the
    same, only the live state it was made from has moved."""
    [workspace] = harness.api().get("/workspace")["workspaces"]
    harness.api().post(
        "/bucket",
        json={
            "name": "console-made",
            "bucket": "console-made-bucket",
            "storageType": "S3",
            "workspaceId": workspace["id"],
            "key": "AKIACONSOLE",
            "secret": "console-secret",
            "region": "us-east-1",
        },
    )


def saved(harness: Any, path: Path) -> Any:
    plan_file = harness.root / "plan.json"
    save_plan(harness.plan(path), plan_file)
    return load_plan(plan_file)


def test_a_saved_plan_is_refused_after_an_unmanaged_object_appears(harness: Any) -> None:
    path = harness.write(SPEC)
    first = harness.write(SPEC.split("repos:")[0], "first.yaml")  # the workspace and bucket
    assert harness.apply(first).ok
    reviewed = saved(harness, path)
    add_unmanaged_bucket(harness)
    now = harness.prepare(path, saved=reviewed)
    assert [c.address for c in now.plan.actionable] == ["repo.app"]
    assert now.plan.changes == reviewed.changes  # the same changes: only the digest moved
    assert [u.address for u in now.plan.unmanaged] == ["bucket.console-made"]
    assert [b.rule for b in now.plan.blockers] == ["stale-plan"]
    with pytest.raises(SafetyError, match="the live workspace changed since the plan was saved"):
        apply_prepared(now, harness.connection, ApplyRequest())
    assert not harness.api().get("/repo")["repos"]  # nothing was changed


def test_a_saved_plan_of_an_unchanged_world_is_carried_out(harness: Any) -> None:
    path = harness.write(SPEC)
    reviewed = saved(harness, path)
    report = apply_prepared(
        harness.prepare(path, saved=reviewed), harness.connection, ApplyRequest()
    )
    assert report.ok
    assert not harness.plan(path).has_changes


def test_detailed_exitcode_is_2_before_apply_and_0_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC)
    before = run("plan", "--local", "--detailed-exitcode", "spec.yaml")
    assert before.exit_code == 2, before.output
    assert "Plan: 3 to create" in before.stdout
    assert run("plan", "--local", "spec.yaml").exit_code == 0  # without the flag: 0
    assert run("apply", "--local", "--yes", "--no-smoke", "spec.yaml").exit_code == 0
    after = run("plan", "--local", "--detailed-exitcode", "spec.yaml")
    assert after.exit_code == 0, after.output
    assert "No changes." in after.stdout
