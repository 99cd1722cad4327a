"""The `checks` section of a plan in every output: text, JSON (and the plan file that keeps
it, for apply --plan and show), markdown; and none of it in a drift report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from jsonschema import Draft202012Validator

from fbplan.checks import CheckResults, Finding
from fbplan.plan.model import Action, Blocker, Change, Plan
from fbplan.plan.planfile import load_plan, save_plan, schema
from fbplan.plan.render import render_json, render_markdown, render_text

RESULTS = CheckResults(
    file="checks.yaml",
    digest="ab" * 32,
    rules=2,
    evaluations=2,
    findings=(
        Finding("new-repos", "warn", "repo.app", "a new repository needs an owner"),
        Finding("typo", "deny", "repo.app", "m", "no such member in mapping: 'acess'"),
    ),
)


def checked_plan() -> Plan:
    plan = Plan(
        workspace="shop",
        changes=[Change("repo.app", "repo", Action.CREATE, after={"mode": "NORMAL"})],
        spec_path="spec.yaml",
        checks=RESULTS,
        blockers=[Blocker("check", sentence, addrs) for sentence, addrs in RESULTS.blocking()],
    )
    return plan


def test_text_shows_the_summary_the_warnings_and_the_deny_as_a_blocker() -> None:
    text = render_text(checked_plan())
    blocked = (
        "Blocked: check typo could not be evaluated (counted as a deny): no such member in "
        "mapping: 'acess' (check: repo.app)\n"
    )
    summary = (
        "Checks (checks.yaml): 2 rules, 2 evaluations: 1 denied, 1 warning.\n"
        "  warning: check new-repos: a new repository needs an owner (repo.app)\n"
    )
    assert blocked in text and summary in text
    assert text.index(blocked) < text.index(summary)  # what stops apply comes first


def test_json_has_a_valid_checks_section_that_a_plan_file_keeps(tmp_path: Path) -> None:
    plan = checked_plan()
    document = json.loads(render_json(plan))
    Draft202012Validator(schema()).validate(document)
    assert list(document)[-1] == "checks"
    assert document["checks"]["denied"] == 1 and document["checks"]["warned"] == 1
    assert document["checks"]["findings"][1]["error"] == "no such member in mapping: 'acess'"
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json").checks == RESULTS
    assert "checks" not in json.loads(render_json(replace(plan, checks=None)))


def test_markdown_puts_the_warnings_near_the_top() -> None:
    markdown = render_markdown(checked_plan())
    top = markdown[: markdown.index("#### Changes")]
    assert "> [!CAUTION]" in top and "check typo could not be evaluated" in top
    assert "> [!WARNING]\n> **Checks warned** (these do not block apply):\n" in top
    assert "> - check new-repos: a new repository needs an owner (repo.app)" in top


def test_a_drift_report_leaves_checks_out() -> None:
    plan = checked_plan()
    assert "Checks" not in render_text(plan, drift=True)
    assert "Checks" not in render_markdown(plan, drift=True)
