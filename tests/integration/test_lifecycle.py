"""What survives a crash and a race, against the emulator: a key whose secret the sink does
not hold is planned as a replace, fingerprints are saved step by step, a delete answered 404
is done, a workspace name is never bound ambiguously, and saved plans and sink entries are
bound to the backend they were made for."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from fbplan.backend.client import BackendClient
from fbplan.cli.main import cli
from fbplan.emulator.api import create_backend_app
from fbplan.emulator.store import Store
from fbplan.errors import ConfigError, SafetyError
from fbplan.plan.diff import SECRET_NOT_IN_SINK
from fbplan.plan.graph import Step
from fbplan.plan.model import Action
from fbplan.plan.planfile import load_plan, save_plan
from fbplan.plan.render import render_markdown, render_text
from fbplan.workflow import ApplyRequest, Connection, PlanRequest, apply_prepared, prepare
from tests.integration.conftest import TOKEN

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

PROVIDER_SECRET = "lifecycle-provider-secret-5d1e"
SPEC = """\
version: 1
workspace: lifecycle
provider_keys:
  aws: {provider: AWS, key: AKIALIFE, secret: "${env:LIFE_SECRET}", region: us-east-1}
buckets:
  media: {bucket: life-media, storage_type: S3, provider_key: aws, region: us-east-1}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    api_keys: {app-rw: {access: WRITE}}
    ai_api_keys: {app-ai: {ai_type: OPENAI}}
secrets:
  sink: {type: json, path: secrets.json}
"""
KEY = "repo.app.api_key.app-rw"
AI_KEY = "repo.app.ai_api_key.app-ai"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFE_SECRET", PROVIDER_SECRET)


@pytest.fixture
def applied(harness: Any) -> Path:
    path = harness.write(SPEC)
    report = harness.apply(path)
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    return path


def sink(harness: Any) -> dict[str, Any]:
    return json.loads((harness.root / "secrets.json").read_text())


def drop_from_sink(harness: Any, address: str) -> None:
    entries = sink(harness)
    del entries[address]
    (harness.root / "secrets.json").write_text(json.dumps(entries))


def live_key_ids(harness: Any, path: Path) -> list[str]:
    repo_id = harness.prepare(path).live.get("repo.app").id
    return [k["key"] for k in harness.api().get(f"/repo/{repo_id}/apikey")["keys"]]


# -- 1. a key whose secret the sink does not hold ---------------------------------------------


def test_a_key_missing_from_the_sink_is_planned_as_a_replace_with_new_credentials(
    harness: Any, applied: Path
) -> None:
    drop_from_sink(harness, KEY)
    plan = harness.plan(applied)
    change = plan.change(KEY)
    assert change is not None and change.action is Action.REPLACE
    assert change.reasons == (SECRET_NOT_IN_SINK,) and change.new_credentials
    assert [c.address for c in plan.actionable] == [KEY]  # the AI key's secret is still held
    assert f"forces replacement: {SECRET_NOT_IN_SINK}" in render_text(plan)
    assert SECRET_NOT_IN_SINK in render_markdown(plan)


def test_a_sink_entry_of_another_key_id_does_not_count_as_held(harness: Any, applied: Path) -> None:
    entries = sink(harness)
    entries[KEY]["key"] = "FBKSOMEOTHERKEY"
    (harness.root / "secrets.json").write_text(json.dumps(entries))
    assert harness.plan(applied).change(KEY).action is Action.REPLACE  # type: ignore[union-attr]


def test_replacing_a_key_missing_from_the_sink_needs_allow_delete_then_keeps_the_new_secret(
    harness: Any, applied: Path
) -> None:
    old_ids = live_key_ids(harness, applied)
    drop_from_sink(harness, KEY)
    with pytest.raises(SafetyError, match="--allow-delete"):
        harness.apply(applied)
    assert live_key_ids(harness, applied) == old_ids  # nothing changed
    report = harness.apply(applied, allow_delete=True)
    assert report.ok, report.summary()
    [new_id] = live_key_ids(harness, applied)
    assert new_id not in old_ids and sink(harness)[KEY]["key"] == new_id
    assert not harness.plan(applied).has_changes


def test_cli_plan_of_a_key_missing_from_the_sink_exits_2_with_detailed_exitcode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC)
    assert run("apply", "--local", "--yes", "--no-smoke", "spec.yaml").exit_code == 0
    assert run("plan", "--local", "--detailed-exitcode", "spec.yaml").exit_code == 0
    entries = json.loads((tmp_path / "secrets.json").read_text())
    del entries[AI_KEY]
    (tmp_path / "secrets.json").write_text(json.dumps(entries))
    planned = run("plan", "--local", "--detailed-exitcode", "spec.yaml")
    assert planned.exit_code == 2
    assert f"-/+ {AI_KEY} must be replaced" in planned.stdout
    assert SECRET_NOT_IN_SINK in planned.stdout
    refused = run("apply", "--local", "--yes", "--no-smoke", "spec.yaml")
    assert refused.exit_code == 3 and "--allow-delete" in refused.stderr


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_fingerprints_are_saved_as_each_step_completes(harness: Any) -> None:
    path = harness.write(SPEC)
    saved_during_apply: list[set[str]] = []
    fingerprints = harness.root / "fingerprints.json"

    def after(step: Step, status: str, message: str) -> None:
        if step.address == "bucket.media" and status == "done":
            # the provider key's step finished before the bucket that uses it started
            saved_during_apply.append(set(json.loads(fingerprints.read_text())["fingerprints"]))

    prepared = harness.prepare(path)
    report = apply_prepared(prepared, harness.connection, ApplyRequest(), on_step=after)
    assert report.ok
    assert saved_during_apply == [{"lifecycle/provider_key.aws"}]
    assert PROVIDER_SECRET not in fingerprints.read_text()


# -- 4. a delete answered 404 is done -----------------------------------------------------------


def test_deleting_an_orphaned_key_answered_404_is_done_and_the_key_is_made_again(
    harness: Any,
) -> None:
    """The key create's answer is lost (so its secret is); deleting the orphan commits but
    its answer is a 503, and the retried DELETE is answered 404: the orphan is gone."""
    path = harness.write(SPEC)
    rules = [
        {"action": "commit_then_fail", "method": "POST", "path": "/repo/*/apikey", "count": 1},
        {
            "action": "commit_then_fail",
            "status": 503,
            "method": "DELETE",
            "path": "/repo/*/apikey/*",
            "count": 1,
        },
    ]
    harness.api().put("/_emulator/faults", json={"rules": rules})
    report = harness.apply(path)
    faults = harness.api().get("/_emulator/faults")["rules"]
    assert [rule["fired"] for rule in faults] == [1, 1]
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    [key_id] = live_key_ids(harness, path)
    assert sink(harness)[KEY]["key"] == key_id
    assert not harness.plan(path).has_changes


def test_a_planned_delete_answered_404_is_done(harness: Any, applied: Path) -> None:
    pruning = SPEC.replace("    api_keys: {app-rw: {access: WRITE}}\n", "")
    applied.write_text(pruning.replace("provider_keys:", "prune: true\nprovider_keys:"))
    rule = {"action": "commit_then_fail", "status": 503, "method": "DELETE", "path": "/repo/*"}
    harness.api().put("/_emulator/faults", json={"rules": [{**rule, "count": 1}]})
    prepared = harness.prepare(applied)
    assert [c.action for c in prepared.plan.actionable] == [Action.DELETE]
    report = apply_prepared(prepared, harness.connection, ApplyRequest(allow_delete=True))
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    assert KEY not in sink(harness)


# -- 5. workspace names are unique to fbplan -----------------------------------------------------


def test_two_live_workspaces_of_the_specs_name_stop_plan_and_apply_naming_both(
    harness: Any, applied: Path
) -> None:
    first = harness.prepare(applied).live.workspace_id
    second = harness.api().post("/workspace", json={"name": "lifecycle"})["workspace"]["id"]
    for attempt in (lambda: harness.plan(applied), lambda: harness.apply(applied)):
        with pytest.raises(ConfigError) as caught:
            attempt()
        assert f"2 workspaces are named lifecycle (ids {first} and {second})" in str(caught.value)


def test_two_applies_creating_one_workspace_at_once_report_the_race(harness: Any) -> None:
    path = harness.write(SPEC)
    both_ready = threading.Barrier(2, timeout=10)
    reports: list[Any] = []

    def together(step: Step, status: str, message: str) -> None:
        if step.address == "workspace" and status == "start":
            both_ready.wait()  # both runs planned a create and now send it

    def one_apply() -> None:
        prepared = harness.prepare(path)
        reports.append(apply_prepared(prepared, harness.connection, ApplyRequest(), together))

    threads = [threading.Thread(target=one_apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(reports) == 2
    failed = [r.message for report in reports for r in report.of("failed")]
    assert failed and all("another run created a workspace named lifecycle" in m for m in failed)
    ids = [w["id"] for w in harness.api().get("/workspace")["workspaces"]]
    assert len(ids) == 2 and all(i in failed[0] for i in ids)
    with pytest.raises(ConfigError, match="2 workspaces are named lifecycle"):
        harness.plan(path)


# -- 9. saved plans and sink entries are bound to a backend ---------------------------------------


@pytest.fixture
def elsewhere(harness: Any) -> Iterator[Connection]:
    """Another backend (its own emulator and organization) for the same spec folder."""
    store = Store(str(harness.root / "other.db"))
    transport = httpx.WSGITransport(app=create_backend_app(store, TOKEN))
    client = BackendClient("http://other.test", TOKEN, transport=transport, sleep=lambda _: None)
    yield Connection(client, None, harness.root / "fingerprints.json")
    client.close()


def test_a_saved_plan_records_its_backend_and_is_refused_by_another(
    harness: Any, elsewhere: Connection
) -> None:
    path = harness.write(SPEC)
    plan_file = harness.root / "plan.json"
    save_plan(harness.plan(path), plan_file)
    saved = load_plan(plan_file)
    org = harness.api().get("/user/profile")["data"]["orgId"]
    assert (saved.backend, saved.org_id) == ("http://emulator.test", org)
    prepared = prepare(PlanRequest(path, saved=saved), elsewhere)
    with pytest.raises(SafetyError) as caught:
        apply_prepared(prepared, elsewhere, ApplyRequest())
    assert str(caught.value).startswith(
        "blocked (stale-plan): the plan was made against http://emulator.test (organization "
        f"{org}), and this run is against http://other.test (organization "
    )
    assert elsewhere.api.get("/workspace")["workspaces"] == []
    same = prepare(PlanRequest(path, saved=saved), harness.connection)
    assert apply_prepared(same, harness.connection, ApplyRequest()).ok


def test_a_sink_entry_of_another_backend_is_never_overwritten(
    harness: Any, applied: Path, elsewhere: Connection
) -> None:
    before = (harness.root / "secrets.json").read_text()
    assert sink(harness)[KEY]["backend"] == "http://emulator.test"
    assert sink(harness)[KEY]["workspace"] == "lifecycle"
    prepared = prepare(PlanRequest(applied), elsewhere)
    blockers = {b.addresses: b for b in prepared.plan.blockers}
    assert set(blockers) == {(KEY,), (AI_KEY,)}
    assert blockers[(KEY,)].rule == "secret-sink"
    assert "give each environment its own sink path" in blockers[(KEY,)].message
    with pytest.raises(SafetyError, match=f"holds the secret of {KEY} for workspace lifecycle on"):
        apply_prepared(prepared, elsewhere, ApplyRequest())
    assert elsewhere.api.get("/workspace")["workspaces"] == []
    assert (harness.root / "secrets.json").read_text() == before
