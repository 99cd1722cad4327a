"""Quota and credit preflight against the emulator: a plan whose creates would exceed the
organization's quota is blocked before anything is written, one under it is not, a quota
lowered after the plan fails the create with the API's own refusal, and a quota that
cannot be read leaves a note instead of failing the plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from fbplan.apply.executor import ExecuteOptions, execute
from fbplan.errors import ApiError, SafetyError
from fbplan.kinds.base import ApplyContext
from fbplan.plan.model import Action
from fbplan.workflow import (
    ApplyRequest,
    PlanRequest,
    apply_prepared,
    check_before_apply,
    prepare,
)

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

SPEC = """\
version: 1
workspace: quota-team
provider_keys:
  aws: {provider: AWS, key: AKIAQUOTA, secret: "${env:QUOTA_SECRET}", region: us-east-1}
buckets:
  media: {bucket: quota-media, storage_type: S3, provider_key: aws, region: us-east-1}
  logs: {bucket: quota-logs, storage_type: S3, provider_key: aws, region: us-east-1}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
"""


@pytest.fixture(autouse=True)
def provider_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTA_SECRET", "quota-provider-secret-never-shown")


@pytest.fixture
def spec(harness) -> Path:
    return harness.write(SPEC)


def quota_reads(harness) -> int:
    counters = harness.app.extensions["fbplan_emulator"]["recorder"].counters()
    return counters.get("GET /user/quota", 0)


def test_creates_over_the_quota_block_the_plan_and_apply_writes_nothing(harness, spec):
    harness.store.set_quotas({"buckets": 3})
    other = harness.store.create_workspace("elsewhere")["id"]  # the quota is org-wide
    for name in ("x", "y"):
        harness.api().post("/bucket", json=_bucket(name, other))
    prepared = harness.prepare(spec)
    (blocker,) = prepared.plan.blockers
    assert blocker.rule == "quota" and blocker.addresses == ("bucket.logs", "bucket.media")
    assert "BUCKETS_COUNT over its maximum: 2 used + 2 created = 4 > 3" in blocker.message
    (row,) = prepared.plan.quota.affected
    assert (row.code, row.current, row.planned, row.max) == ("BUCKETS_COUNT", 2, 4, 3)
    with pytest.raises(SafetyError, match=r"blocked \(quota\)"):
        check_before_apply(prepared, ApplyRequest())
    assert harness.store.list_workspaces()[0]["name"] == "elsewhere"
    assert len(harness.store.list_workspaces()) == 1  # nothing written


def test_creates_within_the_quota_pass_and_the_quota_is_read_once(harness, spec):
    harness.store.set_quotas({"buckets": 2, "repos": 1})
    prepared = harness.prepare(spec)
    assert prepared.plan.blockers == () and quota_reads(harness) == 1
    assert [(r.code, r.planned, r.max) for r in prepared.plan.quota.affected] == [
        ("BUCKETS_COUNT", 2, 2),
        ("REPOS_COUNT", 1, 1),
    ]
    report = harness.apply(spec)
    assert report.ok, report.results
    again = harness.plan(spec)
    assert not again.has_changes and again.quota.affected == ()
    assert [r.current for r in again.quota.rows] == [2, 1]


def test_a_quota_lowered_after_the_plan_fails_the_create_with_the_apis_refusal(harness, spec):
    prepared = harness.prepare(spec)
    assert prepared.plan.blockers == ()
    harness.store.set_quotas({"buckets": 1, "repos": 0})  # someone else took the capacity
    check_before_apply(prepared, ApplyRequest())
    ctx = ApplyContext(harness.api(), prepared.live.org_id, prepared.live.ids())
    options = ExecuteOptions(quota_waits=(0.0,), fingerprints=prepared.fingerprints)
    report = execute(prepared.plan, prepared.desired, prepared.live, ctx, options)
    failed = {r.step.address: r.message for r in report.of("failed")}
    done = {r.step.address for r in report.of("done")}
    assert {"workspace", "provider_key.aws"} <= done
    (bucket,) = {"bucket.logs", "bucket.media"} & set(failed)  # one fits, the other is refused
    assert "quota exceeded (HTTP 429)" in failed[bucket]
    if bucket == "bucket.media":
        assert "repo.app" in {r.step.address for r in report.of("skipped")}
    else:
        assert "quota exceeded (HTTP 403)" in failed["repo.app"]
    harness.store.set_quotas({"buckets": None, "repos": None})
    assert harness.apply(spec).ok  # capacity freed: apply converges
    assert not harness.plan(spec).has_changes


def test_a_saved_plan_is_blocked_when_the_quota_was_used_up_since(harness, spec):
    saved = harness.plan(spec)
    other = harness.store.create_workspace("elsewhere")["id"]
    harness.api().post("/bucket", json=_bucket("x", other))
    harness.store.set_quotas({"buckets": 2})
    with pytest.raises(SafetyError, match=r"blocked \(quota\).*1 used \+ 2 created = 3 > 2"):
        apply_prepared(harness.prepare(spec, saved=saved), harness.connection, ApplyRequest())
    assert [w["name"] for w in harness.store.list_workspaces()] == ["elsewhere"]


@pytest.mark.parametrize(
    ("setup", "note"),
    [
        (
            {"subscription": False},
            "quotas were not checked: GET /user/quota answered HTTP 404 (NO_ACTIVE_SUBSCRIPTION);"
            " the organization has no active subscription",
        ),
        (
            {"credits": None},
            "the credit balance was not checked: GET /credits/balance answered HTTP 400 "
            "(CREDITS_NOT_ENABLED); the credits system is not enabled for the organization",
        ),
    ],
)
def test_a_quota_or_balance_that_cannot_be_read_is_a_note(harness, spec, setup, note):
    harness.store.set_quotas({"buckets": 0})
    harness.store.set_credits_settings(setup)
    plan = harness.plan(spec)
    assert note in plan.notes
    assert [b.rule for b in plan.blockers] == ([] if "subscription" in setup else ["quota"])


def test_a_token_without_the_right_to_read_the_quota_gets_a_note(harness, spec):
    faults = harness.app.extensions["fbplan_emulator"]["faults"]
    faults.add_rules([{"action": "error", "status": 403, "method": "GET", "path": "/user/quota"}])
    plan = harness.plan(spec)
    assert not plan.quota.checked and plan.blockers == ()
    assert any("GET /user/quota answered HTTP 403" in note for note in plan.notes)


def test_a_quota_endpoint_failing_otherwise_fails_the_plan_with_one_sentence(harness, spec):
    faults = harness.app.extensions["fbplan_emulator"]["faults"]
    faults.add_rules([{"action": "error", "status": 500, "method": "GET", "path": "/user/quota"}])
    with pytest.raises(ApiError) as caught:
        harness.plan(spec)
    assert str(caught.value).startswith("GET /user/quota failed with HTTP 500")


def test_an_exhausted_credit_balance_is_a_warning_not_a_blocker(harness, spec):
    harness.store.set_credits_settings({"credits": 0})
    plan = harness.plan(spec)
    assert plan.blockers == () and plan.quota.credits.realtime == 0
    assert any("credit balance is 0" in note for note in plan.notes)


def test_drift_and_destroy_do_not_read_the_quota(harness, spec):
    harness.store.set_quotas({"buckets": 0})
    drift = prepare(PlanRequest(spec), harness.connection, drift=True).plan
    destroy = prepare(PlanRequest(spec), harness.connection, destroy=True).plan
    assert drift.quota is None and destroy.quota is None and quota_reads(harness) == 0
    assert all(c.action is Action.CREATE for c in drift.changes if c.kind == "bucket")


def _bucket(name: str, workspace_id: str) -> dict[str, str]:
    return {
        "name": name,
        "bucket": f"elsewhere-{name}",
        "storageType": "S3",
        "workspaceId": workspace_id,
        "key": "AKIA",
        "secret": "s",
        "region": "us-east-1",
    }
