"""Destroy (reverse dependency order, protect) and the workspace lock (two applies of one
workspace never both write), through the stages and through the CLI."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fbplan.apply.lock import workspace_lock
from fbplan.cli.main import cli
from fbplan.errors import SafetyError
from fbplan.plan.graph import Step
from fbplan.plan.model import Action
from fbplan.workflow import ApplyRequest, PlanRequest, apply_prepared, prepare

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

SPEC = """\
version: 1
workspace: doomed
provider_keys:
  aws: {provider: AWS, key: AKIADOOMED, secret: "${env:DOOMED_SECRET}", region: us-east-1}
buckets:
  media: {bucket: doomed-media, storage_type: S3, provider_key: aws, region: us-east-1}
ai_llms:
  gpt: {ai_type: OPENAI, provider_key: aws}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    ai_llms: [gpt]
    api_keys: {app-rw: {access: WRITE}}
    ai_api_keys: {app-ai: {ai_type: OPENAI}}
policies:
  ws: {scope: workspace, risk: LOW, action: log, content: Log it.}
  app: {scope: "repo:app", risk: HIGH, action: block, content: Block it.}
secrets:
  sink: {type: json, path: secrets.json}
"""


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOOMED_SECRET", "doomed-provider-secret-9911")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def applied(harness: Any) -> Path:
    path = harness.write(SPEC)
    assert harness.apply(path).ok
    return path


# -- destroy -----------------------------------------------------------------------------


def test_destroy_deletes_everything_declared_in_reverse_dependency_order(
    harness: Any, applied: Path
) -> None:
    prepared = prepare(PlanRequest(applied), harness.connection, destroy=True)
    assert {c.action for c in prepared.plan.changes} == {Action.DELETE}
    assert len(prepared.plan.changes) == len(prepared.desired)
    done: list[str] = []
    report = apply_prepared(
        prepared,
        harness.connection,
        ApplyRequest(allow_delete=True, parallelism=4),
        on_step=lambda step, status, _: done.append(step.address) if status == "done" else None,
    )
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    assert sorted(done) == sorted(prepared.desired.resources)
    for resource in prepared.live:
        for ref in resource.refs:  # whatever refers to an object is deleted before it
            assert done.index(resource.address) < done.index(ref), (resource.address, ref)
    assert harness.api().get("/workspace")["workspaces"] == []
    assert harness.plan(applied).count(Action.CREATE) == len(prepared.desired)
    fingerprints = json.loads((harness.root / "fingerprints.json").read_text())["fingerprints"]
    assert fingerprints == {}  # nothing is kept about what is gone for good
    assert json.loads((harness.root / "secrets.json").read_text()) == {}  # nor deleted keys


def test_destroy_leaves_what_another_spec_declares_and_keeps_their_workspace(
    harness: Any, applied: Path
) -> None:
    neighbour = harness.write(
        "version: 1\nworkspace: doomed\n"
        "buckets:\n  other: {bucket: doomed-other, storage_type: S3, region: us-east-1, key: K, secret: "
        '"${env:DOOMED_SECRET}"}\n',
        "neighbour.yaml",
    )
    assert harness.apply(neighbour).ok
    prepared = prepare(PlanRequest(applied), harness.connection, destroy=True)
    deleted = {c.address for c in prepared.plan.changes}
    assert "bucket.other" not in deleted and "workspace" not in deleted
    assert "The workspace is kept: it holds objects this spec does not declare (bucket.other)." in (
        prepared.plan.notes
    )
    report = apply_prepared(prepared, harness.connection, ApplyRequest(allow_delete=True))
    assert report.ok, report.summary()
    assert not harness.plan(neighbour).has_changes  # the neighbour's bucket is untouched


def test_destroy_honours_protect_and_deletes_nothing(harness: Any, applied: Path) -> None:
    applied.write_text(
        SPEC.replace("region: us-east-1}\nai_llms", "region: us-east-1, protect: true}\nai_llms")
    )
    prepared = prepare(PlanRequest(applied), harness.connection, destroy=True)
    assert [b.rule for b in prepared.plan.blockers] == ["protect"]
    with pytest.raises(SafetyError, match=r"protected resources: bucket\.media"):
        apply_prepared(prepared, harness.connection, ApplyRequest(allow_delete=True))
    assert not harness.plan(applied).has_changes  # everything is still there


def test_cli_destroy_exits_3_on_protect_and_deletes_everything_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(
        SPEC.replace("{scope: workspace,", "{protect: true, scope: workspace,")
    )
    assert run("apply", "--local", "spec.yaml", "--yes", "--no-smoke").exit_code == 0
    result = run("destroy", "--local", "spec.yaml", "--yes")
    assert result.exit_code == 3
    assert "policy.ws" in result.stderr and "protect" in result.stderr
    assert run("drift", "--local", "spec.yaml").exit_code == 0  # nothing was deleted
    (tmp_path / "spec.yaml").write_text(SPEC)
    assert run("destroy", "--local", "spec.yaml", "--yes").exit_code == 0
    drift = run("drift", "--local", "spec.yaml")
    assert drift.exit_code == 2 and "0 changed, 9 missing, 0 unmanaged" in drift.stdout


# -- the workspace lock ----------------------------------------------------------------------


def test_a_second_apply_of_a_locked_workspace_fails_fast_and_writes_nothing(
    harness: Any,
) -> None:
    path = harness.write(SPEC)
    locks = harness.root / "locks"
    first_started, release = threading.Event(), threading.Event()

    def pause(step: Step, status: str, message: str) -> None:
        if status == "start":
            first_started.set()
            assert release.wait(timeout=10)

    def first_apply() -> None:
        with workspace_lock("doomed", "apply", locks):
            prepared = prepare(PlanRequest(path), harness.connection)
            results.append(apply_prepared(prepared, harness.connection, ApplyRequest(), pause))

    results: list[Any] = []
    thread = threading.Thread(target=first_apply)
    thread.start()
    try:
        assert first_started.wait(timeout=10)
        with (
            pytest.raises(SafetyError, match=rf"locked by .*pid {os.getpid()}, apply\)"),
            workspace_lock("doomed", "apply", locks),
        ):
            pytest.fail("the second apply got the lock")  # pragma: no cover
        assert harness.api().get("/workspace")["workspaces"] == []
    finally:
        release.set()
        thread.join(timeout=30)
    assert results and results[0].ok
    assert not harness.plan(path).has_changes


def test_cli_apply_exits_3_naming_the_holder_while_the_lock_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC)
    with workspace_lock("doomed", "apply from CI job 42", Path(".fbplan/locks")):
        result = run("apply", "--local", "spec.yaml", "--yes", "--no-smoke")
    assert result.exit_code == 3
    assert "the workspace doomed is locked by" in result.stderr
    assert "apply from CI job 42" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert run("plan", "--local", "spec.yaml", "--detailed-exitcode").exit_code == 2  # nothing made
    assert run("apply", "--local", "spec.yaml", "--yes", "--no-smoke").exit_code == 0


def test_cli_lock_timeout_waits_then_exits_3_naming_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC)
    with workspace_lock("doomed", "apply from CI job 43", Path(".fbplan/locks")):
        result = run("apply", "--local", "spec.yaml", "--yes", "--lock-timeout", "1s")
    assert result.exit_code == 3
    assert "apply from CI job 43" in result.stderr and "still after waiting 1 s" in result.stderr
    assert "note: waiting up to 1 s for the lock of doomed" in result.stderr
    usage = run("apply", "--local", "spec.yaml", "--lock-timeout", "soon")
    assert usage.exit_code == 1 and "'soon' is not a duration" in usage.stderr
