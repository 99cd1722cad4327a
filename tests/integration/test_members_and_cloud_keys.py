"""The two kinds added through the registry alone, on the emulator: workspace members
(`members:`, by email, with a role) and repository cloud keys (`repos.R.cloud_keys`, links to
provider keys). Each is created, updated where it can be, planned empty a second time,
pruned, and exported back to a spec that plans no change."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from fbplan.backend.live import read_live
from fbplan.errors import SpecError
from fbplan.export import export_spec
from fbplan.plan.model import Action
from fbplan.spec import load_spec
from tests.integration.test_kinds import actionable
from tests.integration.test_kinds import assert_converges as converge
from tests.integration.test_kinds import write_spec as write

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

WORKSPACE = "team"
ME = "emulator@flashback.local"  # the emulator's caller, ADMIN of what it creates
SPEC: dict[str, Any] = {
    "version": 1,
    "workspace": WORKSPACE,
    "provider_keys": {
        "aws": {"provider": "AWS", "key": "AKIAMEMBERS", "secret": "${env:MK_AWS_SECRET}"},
        "gcp": {"provider": "GCP", "key": "sa@members", "secret": "${env:MK_GCP_SECRET}"},
    },
    "repos": {
        "app": {"storage_type": "S3", "mode": "NORMAL", "cloud_keys": {"aws": {}, "gcp": None}},
    },
    "members": {"ana@example.com": {"role": "WRITE"}, "ben@example.com": {"role": "READ"}},
}
SECRET = "members-secret-value-0451"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MK_AWS_SECRET", SECRET)
    monkeypatch.setenv("MK_GCP_SECRET", SECRET)


def members(harness: Any) -> dict[str, str]:
    """email -> role of the workspace's members, as the API lists them."""
    live = read_live(harness.api(), WORKSPACE)
    workspace = harness.api().get(f"/workspace/{live.workspace_id}")["workspace"]
    return {m["user"]["email"]: m["role"] for m in workspace["users"]}


def cloud_keys(harness: Any) -> set[str]:
    """The descriptions (spec names) of the provider keys linked to repo app."""
    api = harness.api()
    live = read_live(api, WORKSPACE)
    links = api.get(f"/repo/{live.get('repo.app').id}/cloud-apikey")["items"]
    names = {r.id: r.name for r in live.of_kind("provider_key")}
    return {names[link["apiKeyId"]] for link in links}


def test_members_and_cloud_keys_are_created_then_plan_empty(harness: Any) -> None:
    path = write(harness, SPEC)
    planned = actionable(harness.plan(path))
    assert planned["member.ana@example.com"] == Action.CREATE
    assert planned["repo.app.cloud_key.aws"] == Action.CREATE
    converge(harness, path)
    assert members(harness) == {ME: "ADMIN", "ana@example.com": "WRITE", "ben@example.com": "READ"}
    assert cloud_keys(harness) == {"aws", "gcp"}


def test_a_role_changes_in_place(harness: Any) -> None:
    converge(harness, write(harness, SPEC))
    spec = copy.deepcopy(SPEC)
    spec["members"]["ana@example.com"]["role"] = "ADMIN"
    path = write(harness, spec)
    assert actionable(harness.plan(path)) == {"member.ana@example.com": Action.UPDATE}
    converge(harness, path)
    assert members(harness)["ana@example.com"] == "ADMIN"


def test_prune_removes_undeclared_members_and_links_but_never_your_own_membership(
    harness: Any,
) -> None:
    converge(harness, write(harness, SPEC))
    spec = copy.deepcopy(SPEC)
    spec["prune"] = {"members": True, "cloud_keys": True}
    spec["members"] = {"ben@example.com": {"role": "READ"}}
    spec["repos"]["app"]["cloud_keys"] = {"gcp": {}}
    path = write(harness, spec)
    assert actionable(harness.plan(path)) == {
        "member.ana@example.com": Action.DELETE,
        "repo.app.cloud_key.aws": Action.DELETE,
    }
    converge(harness, path)
    assert members(harness) == {ME: "ADMIN", "ben@example.com": "READ"}
    assert cloud_keys(harness) == {"gcp"}


def test_undeclared_members_and_links_are_left_alone_without_prune(harness: Any) -> None:
    converge(harness, write(harness, SPEC))
    spec = copy.deepcopy(SPEC)
    del spec["members"]["ana@example.com"]
    del spec["repos"]["app"]["cloud_keys"]["aws"]
    plan = harness.plan(write(harness, spec))
    assert actionable(plan) == {}
    unmanaged = {r.address for r in plan.unmanaged}
    assert {"member.ana@example.com", "repo.app.cloud_key.aws"} <= unmanaged
    assert f"member.{ME}" not in unmanaged  # your own membership is not the spec's business


def test_an_export_with_members_and_cloud_keys_plans_no_change(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    converge(harness, write(harness, SPEC))
    text = export_spec(read_live(harness.api(), WORKSPACE))
    exported = yaml.safe_load(text)
    assert exported["members"] == {
        ME: {"role": "ADMIN"},
        "ana@example.com": {"role": "WRITE"},
        "ben@example.com": {"role": "READ"},
    }
    assert exported["repos"]["app"]["cloud_keys"] == {"aws": {}, "gcp": {}}
    assert SECRET not in text
    for name in ("FB_PROVIDER_KEY_AWS_SECRET", "FB_PROVIDER_KEY_GCP_SECRET"):
        monkeypatch.setenv(name, SECRET)
    path = harness.root / "exported" / "spec.yaml"
    path.parent.mkdir()
    path.write_text(text)
    plan = harness.plan(path)
    assert actionable(plan) == {}
    assert plan.unmanaged == ()


def test_an_email_the_organization_does_not_know_fails_its_step_with_one_sentence(
    harness: Any,
) -> None:
    spec = copy.deepcopy(SPEC)
    spec["members"] = {"zoe@example.com": {"role": "READ"}}
    report = harness.apply(write(harness, spec))
    failed = report.of("failed")
    assert [r.message for r in failed] == [
        "member.zoe@example.com: no user of the organization has the email zoe@example.com; "
        "invite them to the organization first"
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["repos"]["app"]["cloud_keys"].update({"azur": {}}),
            "repos.app.cloud_keys.azur: unknown provider_key 'azur'",
        ),
        (
            lambda s: s["members"].update({"Ana@Example.com": {"role": "READ"}}),
            "members.Ana@Example.com: invalid member: the user's email address, in lower case",
        ),
        (
            lambda s: s["members"]["ben@example.com"].update({"role": "OWNER"}),
            "members.ben@example.com.role: must be one of READ, WRITE, ADMIN",
        ),
    ],
)
def test_spec_mistakes_in_the_new_sections_name_file_line_and_field(
    harness: Any, edit: Any, message: str
) -> None:
    spec = copy.deepcopy(SPEC)
    edit(spec)
    with pytest.raises(SpecError) as raised:
        load_spec(write(harness, spec))
    assert message in str(raised.value)


def org_user_id(harness: Any, email: str) -> str:
    users = harness.api().get("/organization/users")["data"]
    return next(u["id"] for u in users if u["email"] == email)


def test_a_member_named_by_user_id_is_created_adopted_and_plans_empty(harness: Any) -> None:
    chen = org_user_id(harness, "chen@example.com")
    spec = copy.deepcopy(SPEC)
    spec["members"] = {"chen": {"role": "READ", "match": {"id": chen}}}
    path = write(harness, spec)
    assert actionable(harness.plan(path))["member.chen"] == Action.CREATE
    converge(harness, path)  # a second plan is empty: the live member is addressed by its id
    assert members(harness)["chen@example.com"] == "READ"
    spec["members"] = {"chen-by-id": {"role": "WRITE", "match": {"id": chen}}}
    path = write(harness, spec)  # the same user under another name: adopted, role updated
    assert actionable(harness.plan(path)) == {"member.chen-by-id": Action.UPDATE}
    converge(harness, path)
    assert members(harness)["chen@example.com"] == "WRITE"


def test_a_member_named_otherwise_than_by_email_needs_its_id(harness: Any) -> None:
    spec = copy.deepcopy(SPEC)
    spec["members"] = {"chen": {"role": "READ"}}
    with pytest.raises(SpecError, match=r"members\.chen.*match"):
        load_spec(write(harness, spec))


def test_an_unknown_user_id_fails_that_member_in_one_sentence(harness: Any) -> None:
    spec = copy.deepcopy(SPEC)
    spec["members"] = {"ghost": {"role": "READ", "match": {"id": "no-such-user"}}}
    report = harness.apply(write(harness, spec))
    failed = {r.step: r.message for r in report.of("failed")}
    assert any("no user of the organization has the id no-such-user" in m for m in failed.values())
