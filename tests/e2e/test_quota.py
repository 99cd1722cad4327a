"""Quota and credit preflight as a user meets it: `fbplan emulator` started with a quota,
and a plan whose creates would exceed it blocked (exit 3) with the table in text, JSON and
markdown; without a subscription the plan goes on with a note."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.conftest import emulator_server
from tests.integration.test_quota import SPEC

pytestmark = pytest.mark.e2e

SECRET = "quota-provider-secret-never-shown"


@contextmanager
def emulator(user, *flags: str) -> Iterator[None]:
    with emulator_server(user, *flags, token="quota-token"):
        user.env["QUOTA_SECRET"] = SECRET
        (user.cwd / "quota.yaml").write_text(SPEC)
        yield


def test_a_plan_over_the_quota_is_blocked_with_the_table_in_every_format(user):
    with emulator(user, "--quota", "buckets=1", "--quota", "repos=5"):
        text = user.fbplan("plan", "quota.yaml")
        document = user.fbplan("plan", "quota.yaml", "--format", "json")
        markdown = user.fbplan("plan", "quota.yaml", "--format", "markdown")
        applied = user.fbplan("apply", "--yes", "quota.yaml")
        after = user.fbplan("plan", "quota.yaml", "--format", "json")
    assert (text.code, document.code, markdown.code, applied.code) == (3, 3, 3, 3)
    table = text.stdout.split("Quota (organization-wide):\n", 1)[1].split("\n\n", 1)[0]
    assert table.splitlines() == [
        "  capability     current  planned  max",
        "  BUCKETS_COUNT  0        2        1    over the quota",
        "  REPOS_COUNT    0        1        5",
    ]
    assert "Blocked: the plan would take the organization's quota BUCKETS_COUNT over" in text.stdout
    quota = json.loads(document.stdout)["quota"]
    rows = {
        c["code"]: (c["current"], c["planned"], c["max"], c["over"]) for c in quota["capabilities"]
    }
    assert rows == {"BUCKETS_COUNT": (0, 2, 1, True), "REPOS_COUNT": (0, 1, 5, False)}
    assert quota["credits"]["balance"] > 0
    md = markdown.stdout
    assert "| `BUCKETS_COUNT` | 0 | 2 | 1 | 🔴 over the quota |" in md
    assert md.index("#### Quota") < md.index("#### Changes")
    assert "blocked (quota)" in applied.stderr
    assert json.loads(after.stdout)["summary"]["create"] == 5  # apply wrote nothing
    for run in (text, document, markdown, applied):
        assert SECRET not in run.stdout + run.stderr


def test_without_a_subscription_the_plan_goes_on_with_a_note(user):
    with emulator(user, "--no-subscription", "--quota", "buckets=0", "--credits", "0"):
        plan = user.fbplan("plan", "quota.yaml")
    assert plan.code == 0, plan.stderr
    assert (
        "quotas were not checked: GET /user/quota answered HTTP 404 (NO_ACTIVE_SUBSCRIPTION)"
        in plan.stdout
    )
    assert "the organization's credit balance is 0 (GET /credits/balance)" in plan.stdout
    assert "Quota (organization-wide)" not in plan.stdout


def test_a_wrong_quota_flag_is_one_sentence(user):
    run = user.fbplan("emulator", "--port", "0", "--data", "emu.db", "--quota", "bucket=2")
    assert run.code == 1
    assert run.stderr.startswith("Error: --quota bucket=2: unknown quota 'bucket'; expected")
    assert "Traceback" not in run.stderr
