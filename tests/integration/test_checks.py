"""Plan checks end to end on the emulator: `fbplan plan --checks` and `fbplan apply --checks`
as a user runs them (the CLI against the embedded emulator, over real HTTP), with the
committed examples/checks.yaml: deny (exit 3, naming the rule and the resource), warn
(text, JSON, markdown), no match, errors at file:line before any request, fail closed,
and apply refusing a denied plan, fresh or saved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

from fbplan.checks import load_checks
from fbplan.cli.main import cli
from fbplan.plan.planfile import schema
from fbplan.secrets import values as secret

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "checks.yaml"
CANARY = "shop-bucket-secret-CANARY-4417"

SPEC = """\
version: 1
workspace: shop-prod
buckets:
  media: {bucket: shop-media, storage_type: S3, region: us-east-1, key: AKIASHOP, secret: "${env:SHOP_SECRET}"}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    api_keys:
      app-rw: {access: WRITE}
policies:
  pii: {scope: "repo:app", risk: HIGH, action: block, content: Block personal data.}
secrets:
  sink: {type: json, path: secrets.json}
"""
# The three rules of examples/checks.yaml, each broken once.
ADMIN_KEY = SPEC.replace(
    "app-rw: {access: WRITE}", "app-rw: {access: WRITE}\n      ops: {access: ADMIN}"
)
LOGGING_POLICY = SPEC.replace("risk: HIGH, action: block", "risk: HIGH, action: log")
WARN_CHECKS = """\
version: 1
rules:
  - name: new-repos
    warn: change.action == "create"
    message: a new repository needs an owner in the catalogue
    scope: {kind: repo}
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(secret, "_known", set())
    monkeypatch.setenv("SHOP_SECRET", CANARY)
    shutil.copy(EXAMPLES, tmp_path / "checks.yaml")
    (tmp_path / "warn.yaml").write_text(WARN_CHECKS)
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def plan(*args: str) -> Result:
    return run("plan", "--local", "spec.yaml", *args)


def test_a_plan_that_passes_its_checks_says_so_and_exits_0(shop: Path) -> None:
    result = plan("--checks", "checks.yaml")
    assert result.exit_code == 0, result.output
    assert "Checks (checks.yaml): 4 rules, 8 evaluations: 0 denied, 0 warnings." in result.stdout
    assert "Blocked" not in result.stdout


def test_a_deny_blocks_the_plan_with_exit_3_naming_the_rule_and_the_resource(shop: Path) -> None:
    (shop / "spec.yaml").write_text(ADMIN_KEY)
    result = plan("--checks", "checks.yaml")
    assert result.exit_code == 3
    assert (
        "Blocked: check no-admin-repo-keys: no repository key gets ADMIN access; use WRITE "
        "(check: repo.app.api_key.ops)" in result.stdout
    )
    (shop / "spec.yaml").write_text(LOGGING_POLICY)
    result = plan("--checks", "checks.yaml")
    assert result.exit_code == 3
    assert "check high-risk-policies-block: every HIGH-risk AI policy blocks" in result.stdout
    assert "(check: policy.pii)" in result.stdout
    assert plan().exit_code == 0  # without --checks, nothing blocks


def test_no_bucket_is_deleted_in_prod(shop: Path) -> None:
    assert run("apply", "--local", "spec.yaml", "--yes", "--no-smoke").exit_code == 0
    gone = SPEC.replace("media: {bucket: shop-media", "other: {bucket: shop-other").replace(
        "{bucket: media, folder", "{bucket: other, folder"
    )
    (shop / "spec.yaml").write_text("prune: true\n" + gone)
    result = plan("--checks", "checks.yaml")
    assert result.exit_code == 3
    assert (
        "check no-bucket-delete-in-prod: no bucket is deleted or replaced in a production"
        in result.stdout
    )
    assert "(check: bucket.media)" in result.stdout
    (shop / "spec.yaml").write_text("prune: true\n" + gone.replace("shop-prod", "shop-dev"))
    assert "no-bucket-delete-in-prod" not in plan("--checks", "checks.yaml").stdout


def test_warnings_show_in_text_json_and_near_the_top_of_markdown(shop: Path) -> None:
    text = plan("--checks", "warn.yaml")
    assert text.exit_code == 0
    assert (
        "  warning: check new-repos: a new repository needs an owner in the catalogue (repo.app)"
        in text.stdout
    )
    document = json.loads(plan("--checks", "warn.yaml", "--format", "json").stdout)
    Draft202012Validator(schema()).validate(document)
    assert document["blockers"] == []
    checks = document["checks"]
    assert checks["file"] == "warn.yaml" and checks["digest"] == load_checks("warn.yaml").digest
    assert (checks["rules"], checks["evaluations"], checks["denied"], checks["warned"]) == (
        1,
        1,
        0,
        1,
    )
    assert checks["findings"] == [
        {
            "rule": "new-repos",
            "outcome": "warn",
            "address": "repo.app",
            "message": "a new repository needs an owner in the catalogue",
            "error": None,
        }
    ]
    markdown = plan("--checks", "warn.yaml", "--format", "markdown").stdout
    assert "> **Checks warned** (these do not block apply):" in markdown
    assert (
        "> - check new-repos: a new repository needs an owner in the catalogue (repo.app)"
        in markdown
    )
    assert markdown.index("Checks warned") < markdown.index("#### Changes")


def test_a_deny_is_in_the_json_blockers_and_the_markdown_callout(shop: Path) -> None:
    (shop / "spec.yaml").write_text(ADMIN_KEY)
    result = plan("--checks", "checks.yaml", "--format", "json")
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["blockers"] == [
        {
            "rule": "check",
            "message": "check no-admin-repo-keys: no repository key gets ADMIN access; use WRITE",
            "addresses": ["repo.app.api_key.ops"],
        }
    ]
    assert document["checks"]["denied"] == 1
    markdown = plan("--checks", "checks.yaml", "--format", "markdown").stdout
    callout = markdown[markdown.index("> [!CAUTION]") : markdown.index("#### Changes")]
    assert "check no-admin-repo-keys" in callout and "(check: repo.app.api_key.ops)" in callout


def test_a_check_that_cannot_be_evaluated_fails_closed(shop: Path) -> None:
    (shop / "typo.yaml").write_text(
        "version: 1\nrules:\n"
        "  - {name: typo, warn: 'resource.acess == \"ADMIN\"', message: m, scope: {kind: repo_api_key}}\n"
    )
    result = plan("--checks", "typo.yaml")
    assert result.exit_code == 3
    assert (
        "Blocked: check typo could not be evaluated (counted as a deny): no such member in "
        "mapping: 'acess' (check: repo.app.api_key.app-rw)" in result.stdout
    )


def test_a_bad_checks_file_is_an_error_at_file_line_before_any_request(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FB_BACKEND_URL", "http://127.0.0.1:9")  # nothing listens: no request
    monkeypatch.setenv("FB_JWT", "unused-token")
    (shop / "bad.yaml").write_text(
        "version: 1\nrules:\n  - name: broken\n    deny: change.kind ==\n    message: m\n"
    )
    for command in (["plan", "spec.yaml"], ["apply", "spec.yaml", "--yes"]):
        result = run(*command, "--checks", "bad.yaml")
        assert result.exit_code == 1
        assert result.stderr == (
            "Error: bad.yaml:4:11: rules[0].deny: rule broken: CEL syntax error at line 1, "
            "column 13 of the expression\n"
        )


def test_apply_refuses_a_denied_plan_and_changes_nothing(shop: Path) -> None:
    (shop / "spec.yaml").write_text(ADMIN_KEY)
    result = run("apply", "--local", "spec.yaml", "--checks", "checks.yaml", "--yes", "--no-smoke")
    assert result.exit_code == 3
    assert "blocked (check): check no-admin-repo-keys" in result.stderr
    assert "(check: repo.app.api_key.ops)" in result.stdout
    assert "Plan: 6 to create" in plan().stdout  # nothing was created


def test_apply_of_a_saved_plan_evaluates_the_checks_it_was_made_with_again(shop: Path) -> None:
    (shop / "spec.yaml").write_text(ADMIN_KEY)
    assert plan("--checks", "checks.yaml", "--out", "denied.json").exit_code == 3
    result = run("apply", "--local", "--plan", "denied.json", "--yes", "--no-smoke")
    assert result.exit_code == 3  # no --checks given: the plan's own checks file is enforced
    assert "blocked (check): check no-admin-repo-keys" in result.stderr
    (shop / "spec.yaml").write_text(SPEC)
    assert plan("--checks", "checks.yaml", "--out", "passed.json").exit_code == 0
    with (shop / "checks.yaml").open("a") as handle:
        handle.write("  - {name: late, warn: 'true', message: added after review}\n")
    result = run("apply", "--local", "--plan", "passed.json", "--yes", "--no-smoke")
    assert result.exit_code == 3
    assert "is not the one the plan was checked with" in result.stderr
    shutil.copy(EXAMPLES, shop / "checks.yaml")
    result = run("apply", "--local", "--plan", "passed.json", "--yes", "--no-smoke")
    assert result.exit_code == 0, result.output
    assert "Checks (checks.yaml): 4 rules" in result.stdout


def test_no_secret_reaches_a_check_or_its_output(shop: Path) -> None:
    (shop / "leak.yaml").write_text(
        "version: 1\nrules:\n"
        "  - {name: sees, deny: 'resource.secret.contains(\"CANARY\")', message: m, scope: {kind: bucket}}\n"
        "  - {name: masked, warn: 'resource.secret == \"(sensitive)\"', message: masked, scope: {kind: bucket}}\n"
    )
    outputs = [plan("--checks", "leak.yaml", "--format", f) for f in ("text", "json", "markdown")]
    assert all(result.exit_code == 0 for result in outputs)
    assert "check masked: masked (bucket.media)" in outputs[0].stdout
    assert not any(CANARY in result.output for result in outputs)
