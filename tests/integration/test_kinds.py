"""Every resource kind against the emulator: the full example converges, each updatable
field gives an update and each replace-only field a replace, policies converge at every
scope, and apply under commit-then-fail faults makes no duplicate and loses no secret."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fbplan.kinds import REGISTRY
from fbplan.plan.model import Action, Plan

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

EXAMPLES = Path(__file__).parents[2] / "examples"
Spec = dict[str, Any]
Edit = Callable[[Spec], None]

BASE: Spec = {
    "version": 1,
    "workspace": "kinds",
    "provider_keys": {
        "aws": {
            "provider": "AWS",
            "key": "AKIAKINDSAWS",
            "secret": "${env:KINDS_AWS_SECRET}",
            "region": "us-east-1",
            "endpoint": "https://s3.us-east-1.amazonaws.com",
        },
        "azure": {
            "provider": "AZURE",
            "key": "kindsaccount",
            "secret": "${env:KINDS_AZURE_SECRET}",
            "tenant_id": "tenant-1",
            "subscription_id": "subscription-1",
        },
        "openai": {"provider": "OPENAI", "key": "org-kinds", "secret": "${env:KINDS_OPENAI}"},
    },
    "buckets": {
        "media": {
            "bucket": "kinds-media",
            "storage_type": "S3",
            "provider_key": "aws",
            "region": "us-east-1",
            "endpoint": "https://s3.us-east-1.amazonaws.com",
        },
        "logs": {
            "bucket": "kinds-logs",
            "storage_type": "S3",
            "region": "us-east-1",
            "key": "AKIAINLINE",
            "secret": "${env:KINDS_BUCKET_SECRET}",
        },
    },
    "ai_llms": {
        "gpt": {
            "ai_type": "OPENAI",
            "endpoint": "https://api.openai.com/v1",
            "secret": "${env:KINDS_LLM_SECRET}",
        },
        "claude": {
            "ai_type": "ANTHROPIC",
            "provider_key": "openai",
            "endpoint": "https://api.anthropic.com/v1",
        },
    },
    "repos": {
        "app": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [{"bucket": "media", "folder": "media", "master": True}],
            "ai_llms": ["gpt"],
            "api_keys": {"app-rw": {"access": "WRITE"}},
            "ai_api_keys": {"app-ai": {"ai_type": "OPENAI"}},
        }
    },
    "policies": {
        "org-wide": {"scope": "organization", "risk": "LOW", "action": "log", "content": "a"},
        "ws": {"scope": "workspace", "risk": "MEDIUM", "action": "alert", "content": "b"},
        "app-only": {"scope": "repo:app", "risk": "HIGH", "action": "block", "content": "c"},
    },
    "secrets": {"sink": {"type": "json", "path": "secrets.json"}},
}


def setter(path: str, value: Any) -> Edit:
    """An edit that sets the dotted `path` of the spec to `value`."""

    def edit(spec: Spec) -> None:
        *parents, last = path.split(".")
        node = spec
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def remover(path: str) -> Edit:
    def edit(spec: Spec) -> None:
        *parents, last = path.split(".")
        node = spec
        for part in parents:
            node = node[part]
        del node[last]

    return edit


UPDATES: dict[str, tuple[str, str, Edit]] = {
    # id: (address, changed field, edit)
    "provider_key.provider": (
        "provider_key.aws",
        "provider",
        setter("provider_keys.aws.provider", "GCP"),
    ),
    "provider_key.key": ("provider_key.aws", "key", setter("provider_keys.aws.key", "AKIANEW")),
    "provider_key.region": (
        "provider_key.aws",
        "region",
        setter("provider_keys.aws.region", "eu-west-1"),
    ),
    "provider_key.endpoint": (
        "provider_key.aws",
        "endpoint",
        setter("provider_keys.aws.endpoint", "https://s3.eu-west-1.amazonaws.com"),
    ),
    "provider_key.endpoint-removed": (
        "provider_key.aws",
        "endpoint",
        remover("provider_keys.aws.endpoint"),
    ),
    "provider_key.tenant_id": (
        "provider_key.azure",
        "tenant_id",
        setter("provider_keys.azure.tenant_id", "t2"),
    ),
    "provider_key.subscription_id": (
        "provider_key.azure",
        "subscription_id",
        setter("provider_keys.azure.subscription_id", "s2"),
    ),
    "bucket.region": ("bucket.media", "region", setter("buckets.media.region", "eu-west-1")),
    "bucket.endpoint": (
        "bucket.media",
        "endpoint",
        setter("buckets.media.endpoint", "https://minio.test"),
    ),
    "bucket.endpoint-removed": ("bucket.media", "endpoint", remover("buckets.media.endpoint")),
    "bucket.provider_key": (
        "bucket.media",
        "provider_key",
        setter("buckets.media.provider_key", "azure"),
    ),
    "bucket.key": ("bucket.logs", "key", setter("buckets.logs.key", "AKIAINLINE2")),
    "ai_llm.ai_type": ("ai_llm.gpt", "ai_type", setter("ai_llms.gpt.ai_type", "OTHER")),
    "ai_llm.endpoint": (
        "ai_llm.gpt",
        "endpoint",
        setter("ai_llms.gpt.endpoint", "https://llm.test/v1"),
    ),
    "ai_llm.endpoint-removed": ("ai_llm.claude", "endpoint", remover("ai_llms.claude.endpoint")),
    "ai_llm.provider_key": (
        "ai_llm.gpt",
        "provider_key",
        setter(
            "ai_llms.gpt",
            {
                "ai_type": "OPENAI",
                "endpoint": "https://api.openai.com/v1",
                "provider_key": "openai",
            },
        ),
    ),
    "repo.mode": ("repo.app", "mode", setter("repos.app.mode", "MIRROR")),
    "repo.buckets": (
        "repo.app",
        "buckets",
        setter(
            "repos.app.buckets",
            [
                {"bucket": "media", "folder": "media", "master": True},
                {"bucket": "logs", "folder": "logs"},
            ],
        ),
    ),
    "repo.ai_llms": ("repo.app", "ai_llms", setter("repos.app.ai_llms", ["claude", "gpt"])),
    "repo.ai_llms-removed": ("repo.app", "ai_llms", remover("repos.app.ai_llms")),
    "api_key.access": (
        "repo.app.api_key.app-rw",
        "access",
        setter("repos.app.api_keys.app-rw.access", "READ"),
    ),
    "policy.risk": ("policy.ws", "risk", setter("policies.ws.risk", "HIGH")),
    "policy.action": ("policy.ws", "action", setter("policies.ws.action", "block")),
    "policy.content": ("policy.ws", "content", setter("policies.ws.content", "Do not leak.")),
}

REPLACES: dict[str, tuple[str, str, Edit]] = {
    "bucket.bucket": ("bucket.logs", "bucket", setter("buckets.logs.bucket", "kinds-logs-2")),
    "bucket.storage_type": (
        "bucket.logs",
        "storage_type",
        setter("buckets.logs.storage_type", "GCS"),
    ),
    "repo.storage_type": ("repo.app", "storage_type", setter("repos.app.storage_type", "GCS")),
    "repo.attached-folder": (
        "repo.app",
        "buckets",
        setter("repos.app.buckets", [{"bucket": "media", "folder": "media-2", "master": True}]),
    ),
    "ai_api_key.ai_type": (
        "repo.app.ai_api_key.app-ai",
        "ai_type",
        setter("repos.app.ai_api_keys.app-ai.ai_type", "ANTHROPIC"),
    ),
    "policy.scope": ("policy.ws", "scope", setter("policies.ws.scope", "repo:app")),
    # The contract has no null for `apiKeyUuid`: a provider key cannot be detached in place.
    "ai_llm.provider_key-removed": (
        "ai_llm.claude",
        "provider_key",
        setter(
            "ai_llms.claude",
            {
                "ai_type": "ANTHROPIC",
                "endpoint": "https://api.anthropic.com/v1",
                "secret": "${env:KINDS_LLM_SECRET}",
            },
        ),
    ),
}


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KINDS_AWS_SECRET", "KINDS_AZURE_SECRET", "KINDS_OPENAI", "KINDS_BUCKET_SECRET"):
        monkeypatch.setenv(name, f"{name.lower()}-value-1234")
    monkeypatch.setenv("KINDS_LLM_SECRET", "sk-kinds-llm-5678")


def write_spec(harness: Any, spec: Spec, name: str = "spec.yaml") -> Path:
    return harness.write(yaml.safe_dump(spec, sort_keys=False), name)


def actionable(plan: Plan) -> dict[str, Action]:
    return {c.address: c.action for c in plan.actionable}


def assert_converges(harness: Any, path: Path) -> None:
    report = harness.apply(path, allow_delete=True)
    assert report.ok, [(str(r.step), r.message) for r in report.results if r.status != "done"]
    again = harness.plan(path)
    assert actionable(again) == {}, [(c.address, c.fields) for c in again.actionable]


@pytest.fixture
def applied(harness: Any) -> Spec:
    spec = copy.deepcopy(BASE)
    assert_converges(harness, write_spec(harness, spec))
    return spec


def test_full_example_applies_and_replans_empty(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFULLEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "full-example-aws-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-full-example-openai")
    folder = harness.root / "examples"
    folder.mkdir()
    spec = shutil.copy(EXAMPLES / "full.yaml", folder / "full.yaml")
    first = harness.plan(spec)
    kinds = {c.kind for c in first.changes if c.action is Action.CREATE}
    assert kinds == set(REGISTRY)  # the full example declares every kind
    assert_converges(harness, spec)
    assert harness.plan(spec).unmanaged == ()
    sink = (harness.root / ".fbplan" / "full-secrets.env").read_text()
    assert "ACME_APP_API_KEY_APP_RW_SECRET=" in sink
    assert "ACME_APP_AI_API_KEY_APP_AI_SECRET=" in sink


@pytest.mark.parametrize("case", UPDATES.values(), ids=UPDATES.keys())
def test_updatable_field_gives_an_update_and_converges(
    harness: Any, applied: Spec, case: tuple[str, str, Edit]
) -> None:
    address, field, edit = case
    edit(applied)
    path = write_spec(harness, applied)
    plan = harness.plan(path)
    assert actionable(plan) == {address: Action.UPDATE}
    assert [f.field for f in plan.change(address).fields] == [field]
    assert_converges(harness, path)


@pytest.mark.parametrize("case", REPLACES.values(), ids=REPLACES.keys())
def test_replace_only_field_gives_a_replace_and_converges(
    harness: Any, applied: Spec, case: tuple[str, str, Edit]
) -> None:
    address, field, edit = case
    edit(applied)
    path = write_spec(harness, applied)
    plan = harness.plan(path)
    change = plan.change(address)
    assert change.action is Action.REPLACE
    assert field in [f.field for f in change.fields]
    for other in plan.actionable:
        if other.address != address:  # only what cannot survive the replace goes with it
            assert other.action is Action.REPLACE and "is replaced" in other.reasons[-1]
    assert_converges(harness, path)


def test_ai_key_type_change_is_a_replace_with_new_credentials_in_the_sink(
    harness: Any, applied: Spec
) -> None:
    before = json.loads((harness.root / "secrets.json").read_text())
    old = before["repo.app.ai_api_key.app-ai"]
    applied["repos"]["app"]["ai_api_keys"]["app-ai"]["ai_type"] = "ANTHROPIC"
    path = write_spec(harness, applied)
    change = harness.plan(path).change("repo.app.ai_api_key.app-ai")
    assert change.action is Action.REPLACE and change.new_credentials
    assert_converges(harness, path)
    new = json.loads((harness.root / "secrets.json").read_text())["repo.app.ai_api_key.app-ai"]
    assert new["secret"] and new["secret"] != old["secret"]
    live = harness.prepare(path).live.get("repo.app.ai_api_key.app-ai")
    assert live.attrs["ai_type"] == "ANTHROPIC" and live.extra["key_id"] == new["key"]
    listed = harness.api().get(f"/repo/{live.extra['repo_id']}/ai/apikey")["apiKeys"]
    assert [k["key"] for k in listed] == [new["key"]]  # the old key is gone


@pytest.mark.parametrize("scope", ["organization", "workspace", "repo:app"])
def test_policy_converges_at_each_scope(harness: Any, scope: str) -> None:
    spec = copy.deepcopy(BASE)
    spec["policies"] = {"only": {"scope": scope, "risk": "HIGH", "action": "alert", "content": "x"}}
    path = write_spec(harness, spec)
    assert_converges(harness, path)
    live = harness.prepare(path).live.get("policy.only")
    assert live is not None and live.attrs["scope"] == scope


def test_attachments_in_another_order_than_the_server_keeps_give_no_change(
    harness: Any, applied: Spec
) -> None:
    repo = applied["repos"]["app"]
    repo["buckets"] = [{"bucket": "logs", "folder": "logs"}, *repo["buckets"]]
    repo["ai_llms"] = ["gpt", "claude"]
    path = write_spec(harness, applied)
    assert_converges(harness, path)
    repo["buckets"].reverse()
    repo["ai_llms"].reverse()
    assert actionable(harness.plan(write_spec(harness, applied))) == {}


def test_objects_the_server_lists_with_defaults_and_other_spellings_match_the_spec(
    harness: Any,
) -> None:
    """Objects made outside fbplan with minimal bodies (the Azure storage type included)."""
    api = harness.api()
    workspace = api.post("/workspace", json={"name": "outside"})["workspace"]["id"]
    bucket = api.post(
        "/bucket",
        json={
            "name": "b",
            "bucket": "outside-b",
            "storageType": "BLOB",
            "workspaceId": workspace,
            "key": "acct",
            "secret": "outside-secret-1",
            "region": "westeurope",
        },
    )["bucketId"]
    api.post(
        "/repo",
        json={
            "name": "r",
            "storageType": "BLOB",
            "mode": "NORMAL",
            "workspaceId": workspace,
            "repoBuckets": [{"bucketId": bucket, "folder": "f", "master": False}],
        },
    )
    path = harness.write(
        """\
        version: 1
        workspace: outside
        buckets:
          b: {bucket: outside-b, storage_type: BLOB, key: acct, secret: "${env:KINDS_OPENAI}", region: westeurope}
        repos:
          r:
            storage_type: BLOB
            mode: NORMAL
            buckets: [{bucket: b, folder: f}]
        """
    )
    plan = harness.plan(path)
    assert actionable(plan) == {} and plan.unmanaged == ()


def assert_sink_credentials_work(harness: Any) -> None:
    """The sink holds the secrets the Bridge Node and the AI gateway accept today."""
    sink = json.loads((harness.root / "secrets.json").read_text())
    storage, ai = sink["repo.app.api_key.app-rw"], sink["repo.app.ai_api_key.app-ai"]
    assert harness.store.find_repo_api_key_by_key(storage["key"])["secret"] == storage["secret"]
    assert harness.store.find_repo_ai_key_by_token(ai["secret"])["name"] == "app-ai"


@pytest.mark.parametrize("action", ["commit_then_fail", "commit_then_drop"])
def test_creates_that_commit_then_fail_converge_without_duplicates_or_lost_secrets(
    harness: Any, action: str
) -> None:
    paths = ["/bucket", "/repo", "/repo/*/apikey", "/repo/*/ai/apikey"]
    rules = [{"action": action, "method": "POST", "path": path, "count": 1} for path in paths]
    harness.api().put("/_emulator/faults", json=rules)
    path = write_spec(harness, copy.deepcopy(BASE))
    report = harness.apply(path)
    assert [r["fired"] for r in harness.api().get("/_emulator/faults")["rules"]] == [1, 1, 1, 1]
    assert report.ok, [(str(r.step), r.message) for r in report.results if r.status != "done"]
    assert actionable(harness.plan(path)) == {}

    workspace = harness.prepare(path).live.workspace_id
    buckets = harness.api().get("/bucket", params={"workspaceId": workspace})["buckets"]
    assert sorted(b["name"] for b in buckets) == ["logs", "media"]
    (repo,) = harness.api().get("/repo", params={"workspaceId": workspace})["repos"]
    assert [k["name"] for k in harness.api().get(f"/repo/{repo['id']}/apikey")["keys"]] == [
        "app-rw"
    ]
    ai_keys = harness.api().get(f"/repo/{repo['id']}/ai/apikey")["apiKeys"]
    assert [k["name"] for k in ai_keys] == ["app-ai"]
    assert_sink_credentials_work(harness)


def test_moving_a_policy_out_of_organization_scope_leaves_the_org_policy_alone(
    harness: Any, applied: Spec
) -> None:
    # Another workspace's spec may own an organization policy of the same name: fbplan never
    # deletes one it was not told to keep, and says so.
    applied["policies"]["org-wide"]["scope"] = "workspace"
    path = write_spec(harness, applied)
    plan = harness.plan(path)
    assert actionable(plan) == {"policy.org-wide": Action.CREATE}
    assert any("organization-scope policy named org-wide" in note for note in plan.notes)
    assert_converges(harness, path)


def test_another_specs_organization_policy_is_neither_drift_nor_replaced(
    harness: Any, applied: Spec
) -> None:
    other = copy.deepcopy(applied)
    other["workspace"] = "kinds-other"
    other["buckets"] = {}
    other["ai_llms"] = {}
    other["repos"] = {}
    other["provider_keys"] = {}
    other["policies"] = {
        "org-wide": {"scope": "workspace", "risk": "LOW", "action": "log", "content": "x"}
    }
    path = write_spec(harness, other, "other.yaml")
    plan = harness.plan(path)
    assert actionable(plan) == {"workspace": Action.CREATE, "policy.org-wide": Action.CREATE}
    assert plan.unmanaged == ()
    assert [n for n in plan.notes if "organization-scope" in n] == [
        "policy.org-wide: an organization-scope policy named org-wide exists; fbplan leaves it "
        "alone, as it may belong to another workspace's spec (delete it by hand if it was this "
        "spec's)"
    ]
    assert_converges(harness, path)
    # the first spec's organization policy is still there, unchanged
    assert not harness.plan(write_spec(harness, applied)).has_changes
