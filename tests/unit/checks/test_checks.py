"""The checks file loader (schema, CEL compile errors at file:line naming the rule) and the
evaluator (deny, warn, scope, fail closed, bounds) as pure functions over plan documents."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from fbplan.checks import Checks, ChecksError, checks_for_apply, evaluate, evaluator, load_checks
from fbplan.checks.loader import MAX_EXPRESSION_CHARS
from fbplan.errors import ConfigError, SafetyError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "checks.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "checks.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def checks(tmp_path: Path, rules: str, variables: str = "") -> Checks:
    head = "version: 1\n" + (textwrap.dedent(variables) if variables else "") + "rules:\n"
    return load_checks(write(tmp_path, head + textwrap.indent(textwrap.dedent(rules), "  ")))


def change(address: str, kind: str, action: str, **values: Any) -> dict[str, Any]:
    before = values.pop("before", None)
    after = values.pop("after", None)
    if before is None and action not in ("create",):
        before = dict(after or {})
    if after is None and action != "delete":
        after = dict(before or {})
    return {"address": address, "kind": kind, "action": action, "fields": [], "reasons": [],
            "new_credentials": False, "protect": False, "before": before, "after": after,
            "live_id": None if action == "create" else "id-1", **values}  # fmt: skip


def document(*changes: dict[str, Any], workspace: str = "shop-prod") -> dict[str, Any]:
    return {"workspace": workspace, "summary": {"create": len(changes)}, "variables": {},
            "changes": list(changes)}  # fmt: skip


ADMIN_KEY = change("repo.app.api_key.ops", "repo_api_key", "create", after={"access": "ADMIN"})
WRITE_KEY = change("repo.app.api_key.rw", "repo_api_key", "create", after={"access": "WRITE"})
OLD_BUCKET = change("bucket.logs", "bucket", "delete", before={"bucket": "shop-logs"})


# -- outcomes ------------------------------------------------------------------------------


def test_a_deny_fires_for_the_changes_it_is_true_for_only(tmp_path: Path) -> None:
    rules = checks(tmp_path, """\
        - name: no-admin
          deny: resource.access == "ADMIN"
          message: no key gets ADMIN
        """)  # fmt: skip
    results = evaluate(rules, document(ADMIN_KEY, WRITE_KEY))
    assert [(f.rule, f.outcome, f.address) for f in results.findings] == [
        ("no-admin", "deny", "repo.app.api_key.ops")
    ]
    assert results.blocking() == [("check no-admin: no key gets ADMIN", ("repo.app.api_key.ops",))]
    assert results.evaluations == 2 and not results.warnings


def test_a_warn_fires_without_blocking(tmp_path: Path) -> None:
    rules = checks(tmp_path, """\
        - name: creates
          warn: change.action == "create"
          message: something is created
        """)  # fmt: skip
    results = evaluate(rules, document(WRITE_KEY, OLD_BUCKET))
    assert [f.address for f in results.warnings] == ["repo.app.api_key.rw"]
    assert not results.denies and results.blocking() == []
    assert "1 warning" in results.summary()


def test_no_match_finds_nothing(tmp_path: Path) -> None:
    rules = checks(tmp_path, """\
        - name: no-admin
          deny: resource.access == "ADMIN"
          message: no key gets ADMIN
          scope: {kind: repo_api_key}
        """)  # fmt: skip
    results = evaluate(rules, document(WRITE_KEY, OLD_BUCKET))
    assert results.findings == () and results.summary().endswith("0 denied, 0 warnings.")


def test_scope_by_kind_address_and_action(tmp_path: Path) -> None:
    rules = checks(tmp_path, """\
        - name: by-kind
          warn: "true"
          message: m
          scope: {kind: [bucket]}
        - name: by-address
          warn: "true"
          message: m
          scope: {address: "repo.app.api_key.o*"}
        - name: by-action
          warn: "true"
          message: m
          scope: {action: create, kind: repo_api_key}
        """)  # fmt: skip
    found = {
        (f.rule, f.address)
        for f in evaluate(rules, document(ADMIN_KEY, WRITE_KEY, OLD_BUCKET)).findings
    }
    assert found == {
        ("by-kind", "bucket.logs"),
        ("by-address", "repo.app.api_key.ops"),
        ("by-action", "repo.app.api_key.ops"),
        ("by-action", "repo.app.api_key.rw"),
    }


def test_expressions_see_the_plan_the_variables_and_the_resource_a_delete_removes(
    tmp_path: Path,
) -> None:
    rules = checks(
        tmp_path,
        """\
        - name: no-delete-in-prod
          deny: plan.workspace.endsWith(vars.suffix) && resource.bucket.startsWith("shop-")
          message: no bucket is deleted in prod
          scope: {kind: bucket, action: delete}
        """,
        variables="variables: {suffix: -prod}\n",
    )
    assert [f.address for f in evaluate(rules, document(OLD_BUCKET)).denies] == ["bucket.logs"]
    assert evaluate(rules, document(OLD_BUCKET, workspace="shop-dev")).findings == ()


def test_an_expression_that_cannot_be_evaluated_is_a_deny_even_in_a_warn_rule(
    tmp_path: Path,
) -> None:
    rules = checks(tmp_path, """\
        - name: typo
          warn: change.afterr.access == "ADMIN"
          message: m
        - name: null-field
          deny: change.after.bucket == "x"
          message: m
          scope: {kind: bucket}
        - name: not-a-bool
          warn: change.address
          message: m
          scope: {kind: bucket}
        """)  # fmt: skip
    results = evaluate(rules, document(WRITE_KEY, OLD_BUCKET))
    assert {(f.rule, f.address) for f in results.denies} == {
        ("typo", "repo.app.api_key.rw"),
        ("typo", "bucket.logs"),
        ("null-field", "bucket.logs"),
        ("not-a-bool", "bucket.logs"),
    }
    errors = {f.rule: f.error for f in results.findings}
    assert "afterr" in str(errors["typo"])
    assert "read from null" in str(errors["null-field"])
    assert "not a bool" in str(errors["not-a-bool"])
    sentences = [sentence for sentence, _ in results.blocking()]
    assert any(
        s.startswith("check typo could not be evaluated (counted as a deny)") for s in sentences
    )


def test_evaluation_is_bounded_in_count_and_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = checks(tmp_path, """\
        - name: any
          warn: "false"
          message: m
        """)  # fmt: skip
    monkeypatch.setattr(evaluator, "MAX_EVALUATIONS", 2)
    with pytest.raises(ConfigError, match=r"evaluated 3 times .* limit of 2; narrow"):
        evaluate(rules, document(ADMIN_KEY, WRITE_KEY, OLD_BUCKET))
    ticks = iter(range(100))
    with pytest.raises(ConfigError, match=r"took more than 1 s \(at rule any\)"):
        evaluate(rules, document(ADMIN_KEY), deadline_seconds=1, clock=lambda: next(ticks) * 10)


def test_the_examples_file_loads_and_finds_what_it_says(tmp_path: Path) -> None:
    examples = load_checks(EXAMPLES)
    policy = change("policy.pii", "policy", "no-op", after={"risk": "HIGH", "action": "log"})
    results = evaluate(examples, document(ADMIN_KEY, WRITE_KEY, OLD_BUCKET, policy))
    assert {(f.rule, f.address) for f in results.denies} == {
        ("no-admin-repo-keys", "repo.app.api_key.ops"),
        ("no-bucket-delete-in-prod", "bucket.logs"),
        ("high-risk-policies-block", "policy.pii"),
    }
    assert evaluate(examples, document(WRITE_KEY, workspace="shop-dev")).findings == ()


# -- the file's problems, at file:line naming the field and the rule -----------------------


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ChecksError) as caught:
        load_checks(write(tmp_path, text))
    return str(caught.value)


def test_a_cel_syntax_error_is_reported_at_file_line_naming_the_rule(tmp_path: Path) -> None:
    message = problems(tmp_path, """\
        version: 1
        rules:
          - name: fine
            warn: "true"
            message: m
          - name: broken
            deny: change.kind == "bucket" &&
            message: m
        """)  # fmt: skip
    assert message == (
        f"{tmp_path / 'checks.yaml'}:7:11: rules[1].deny: rule broken: CEL syntax error at "
        "line 1, column 25 of the expression"
    )


def test_schema_problems_are_all_reported_at_their_lines(tmp_path: Path) -> None:
    message = problems(tmp_path, f"""\
        version: 1
        rules:
          - name: both
            deny: "true"
            warn: "true"
            message: m
          - name: neither
            message: m
          - name: extra
            warn: "true"
            message: m
            when: "true"
          - name: long
            warn: "{'x' * (MAX_EXPRESSION_CHARS + 1)}"
            message: m
        """)  # fmt: skip
    file = tmp_path / "checks.yaml"
    assert message.startswith(f"the checks file {file} has 4 problems:")
    assert f"{file}:3:5: rules[0]: rule both: give exactly one of deny or warn" in message
    assert f"{file}:7:5: rules[1]: rule neither: give exactly one of deny or warn" in message
    assert f"{file}:9:5: rules[2]: rule extra: unknown field when" in message
    assert f"{file}:14:5: rules[3].warn: rule long: longer than 2000 characters" in message


def test_duplicate_names_unknown_kinds_and_a_missing_file_are_errors(tmp_path: Path) -> None:
    message = problems(tmp_path, """\
        version: 1
        rules:
          - {name: same, warn: "true", message: m}
          - {name: same, warn: "false", message: m, scope: {kind: buckets}}
        """)  # fmt: skip
    file = tmp_path / "checks.yaml"
    assert (
        f"{file}:4:12: rules[1].name: rule same: another rule (rules[0]) has this name" in message
    )
    assert f"{file}:4:59: rules[1].scope.kind: rule same: unknown kind 'buckets'" in message
    with pytest.raises(ChecksError, match=r"missing\.yaml:1:1: cannot read the file"):
        load_checks(tmp_path / "missing.yaml")


# -- a saved plan's checks -----------------------------------------------------------------


def test_apply_of_a_saved_plan_uses_the_recorded_file_and_refuses_a_changed_one(
    tmp_path: Path,
) -> None:
    rules = checks(tmp_path, """\
        - {name: any, warn: "true", message: m}
        """)  # fmt: skip
    recorded = evaluate(rules, document(WRITE_KEY))
    assert checks_for_apply(None, None) is None
    again = checks_for_apply(None, recorded)
    assert again is not None and again.digest == rules.digest
    write(tmp_path, "version: 1\nrules: []\n")
    with pytest.raises(SafetyError, match="not the one the plan was checked with"):
        checks_for_apply(None, recorded)
    assert checks_for_apply(tmp_path / "checks.yaml", None) is not None


@pytest.mark.parametrize(
    "expression",
    [
        'change.action in ["create", "update"]',
        'resource.bucket.startsWith("shop-") && resource.bucket.endsWith("-media")',
        'resource.bucket.matches("^shop-[a-z]+$")',
        "has(resource.bucket) && !has(resource.region)",
        'change.fields.exists(f, f.field == "mode")',
        "resource.tags.all(t, size(t) == 2) && size(resource.tags) == 2",
        '(change.action == "create" ? 1 : 2) == 1 && plan.summary.create > 0',
    ],
)
def test_the_cel_forms_the_guide_shows_work(tmp_path: Path, expression: str) -> None:
    rules = checks(tmp_path, f"- {{name: form, warn: '{expression}', message: m}}\n")
    media = change(
        "bucket.media",
        "bucket",
        "create",
        after={"bucket": "shop-media", "tags": ["ab", "cd"]},
        fields=[{"field": "mode", "before": "A", "after": "B", "sensitive": False}],
    )
    results = evaluate(rules, document(media))
    assert [(f.outcome, f.error) for f in results.findings] == [("warn", None)]
