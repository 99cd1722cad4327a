"""Plan and apply against the emulator over HTTP: convergence, edits, prune, safety."""

from __future__ import annotations

import os
import stat

import pytest

from fbplan.errors import SafetyError
from fbplan.plan.model import Action
from fbplan.workflow import ApplyRequest, apply_prepared

SPEC = """\
version: 1
workspace: converge
buckets:
  media: {bucket: converge-media, storage_type: S3, region: us-east-1, key: AKIA1, secret: "${file:bucket.secret}"}
  logs: {bucket: converge-logs, storage_type: S3, region: us-east-1, key: AKIA2, secret: "${file:bucket.secret}"}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets:
      - {bucket: media, folder: media, master: true}
      - {bucket: logs, folder: logs}
    api_keys:
      app-rw: {access: WRITE}
      app-ro: {access: READ}
secrets:
  sink: {type: dotenv, path: secrets.env}
"""


@pytest.fixture
def spec(harness):
    (harness.root / "bucket.secret").write_text("bucket-secret-value-123\n")
    return harness.write(SPEC)


def actions(plan):
    return [(c.address, c.action) for c in plan.actionable]


def test_apply_then_plan_is_empty_and_apply_twice_changes_nothing(harness, spec):
    first = harness.plan(spec)
    assert first.summary() == "Plan: 6 to create, 0 to update, 0 to replace, 0 to delete."
    report = harness.apply(spec)
    assert report.ok, report.results
    assert not harness.plan(spec).has_changes
    again = harness.apply(spec)
    assert again.results == []
    assert not harness.plan(spec).has_changes


def test_new_key_secret_goes_to_the_sink_file_0600(harness, spec):
    harness.apply(spec)
    sink = harness.root / "secrets.env"
    assert stat.S_IMODE(os.stat(sink).st_mode) == 0o600
    text = sink.read_text()
    assert "APP_API_KEY_APP_RW_KEY_ID=" in text and "APP_API_KEY_APP_RW_SECRET=" in text
    live = harness.api().get("/repo", params={"workspaceId": _workspace_id(harness)})
    keys = {k["name"]: k for k in live["repos"][0]["apiKeys"]}
    assert keys["app-rw"]["key"] in text


def _workspace_id(harness):
    return next(
        w["id"] for w in harness.api().get("/workspace")["workspaces"] if w["name"] == "converge"
    )


def test_one_edit_gives_exactly_one_update(harness, spec):
    harness.apply(spec)
    spec.write_text(spec.read_text().replace("mode: NORMAL", "mode: MIRROR"))
    plan = harness.plan(spec)
    assert actions(plan) == [("repo.app", Action.UPDATE)]
    assert [(f.field, f.before, f.after) for f in plan.actionable[0].fields] == [
        ("mode", "NORMAL", "MIRROR")
    ]
    assert harness.apply(spec).ok
    assert not harness.plan(spec).has_changes


def test_key_access_change_updates_in_place(harness, spec):
    harness.apply(spec)
    spec.write_text(spec.read_text().replace("app-ro: {access: READ}", "app-ro: {access: WRITE}"))
    assert actions(harness.plan(spec)) == [("repo.app.api_key.app-ro", Action.UPDATE)]


def test_removed_resource_is_unmanaged_without_prune_and_a_guarded_delete_with_it(harness, spec):
    harness.apply(spec)
    without_ro = spec.read_text().replace("      app-ro: {access: READ}\n", "")
    spec.write_text(without_ro)
    plan = harness.plan(spec)
    assert not plan.has_changes
    assert [u.address for u in plan.unmanaged] == ["repo.app.api_key.app-ro"]

    spec.write_text(without_ro + "prune: {api_keys: true}\n")
    prepared = harness.prepare(spec)
    assert actions(prepared.plan) == [("repo.app.api_key.app-ro", Action.DELETE)]
    with pytest.raises(SafetyError, match="--allow-delete"):
        apply_prepared(prepared, harness.connection, ApplyRequest())
    assert harness.plan(spec).has_changes  # nothing was deleted
    assert harness.apply(spec, allow_delete=True).ok
    assert not harness.plan(spec).has_changes


def test_protect_blocks_a_replace(harness, spec):
    harness.apply(spec)
    text = spec.read_text().replace(
        "media: {bucket: converge-media,", "media: {protect: true, bucket: converge-media-2,"
    )
    spec.write_text(text)
    prepared = harness.prepare(spec)
    assert prepared.plan.change("bucket.media").action is Action.REPLACE
    assert [b.rule for b in prepared.plan.blockers] == ["protect"]
    with pytest.raises(SafetyError, match="protected"):
        apply_prepared(prepared, harness.connection, ApplyRequest(allow_delete=True))


def test_a_key_without_a_sink_blocks_the_plan_and_fails_before_any_change(harness, spec):
    spec.write_text(spec.read_text().split("secrets:")[0])
    prepared = harness.prepare(spec)
    (blocker,) = prepared.plan.blockers
    assert blocker.rule == "secret-sink"
    assert blocker.addresses == ("repo.app.api_key.app-ro", "repo.app.api_key.app-rw")
    with pytest.raises(SafetyError, match=r"no secrets\.sink"):
        apply_prepared(prepared, harness.connection, ApplyRequest())
    assert harness.api().get("/workspace")["workspaces"] == [] or all(
        w["name"] != "converge" for w in harness.api().get("/workspace")["workspaces"]
    )


def test_replacing_a_bucket_replaces_its_repo_and_converges(harness, spec):
    harness.apply(spec)
    spec.write_text(spec.read_text().replace("bucket: converge-logs", "bucket: converge-logs-v2"))
    plan = harness.plan(spec)
    assert dict(actions(plan)) == {
        "bucket.logs": Action.REPLACE,
        "repo.app": Action.REPLACE,
        "repo.app.api_key.app-rw": Action.REPLACE,
        "repo.app.api_key.app-ro": Action.REPLACE,
    }
    report = harness.apply(spec, allow_delete=True)
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    assert not harness.plan(spec).has_changes


def test_a_name_taken_in_another_workspace_stops_apply_before_any_change(harness, spec):
    harness.apply(spec)
    other = harness.write(
        SPEC.replace("workspace: converge", "workspace: other").replace(
            "converge-media", "other-media"
        ),
        "other.yaml",
    )
    prepared = harness.prepare(other)
    conflicts = {b.message: b for b in prepared.plan.blockers if b.rule == "name-conflict"}
    assert any("bucket name 'media' is already used" in m for m in conflicts)
    assert any("provider bucket 'converge-logs'" in m for m in conflicts)
    assert any("repository name 'app'" in m for m in conflicts)
    assert not any("already" in note for note in prepared.plan.notes)
    with pytest.raises(
        SafetyError, match=r"blocked \(name-conflict\): bucket\.logs: the bucket name"
    ):
        apply_prepared(prepared, harness.connection, ApplyRequest())
    names = [w["name"] for w in harness.api().get("/workspace")["workspaces"]]
    assert names == ["converge"]


def test_a_key_whose_secret_is_not_in_the_sink_is_planned_as_a_replace(harness, spec):
    harness.apply(spec)
    assert not harness.plan(spec).has_changes
    (harness.root / "secrets.env").unlink()
    plan = harness.plan(spec)
    replaced = {c.address: c.reasons for c in plan.actionable if c.action is Action.REPLACE}
    assert replaced == {
        "repo.app.api_key.app-ro": ("secret not in the sink: new credentials",),
        "repo.app.api_key.app-rw": ("secret not in the sink: new credentials",),
    }
