"""The quota preflight as a pure rule over a plan's changes and the quota read, and how
its result reads in every output (text, JSON, markdown, plan file)."""

from __future__ import annotations

import json
from pathlib import Path

from fbplan.kinds import KINDS
from fbplan.plan.model import Action, Change, Plan
from fbplan.plan.planfile import load_plan, save_plan
from fbplan.plan.quota import (
    Capability,
    Credits,
    QuotaFacts,
    credit_notes,
    quota_blockers,
    quota_report,
)
from fbplan.plan.render import render_json, render_markdown, render_text

COUNTED_BY = {kind.name: kind.quota_capability for kind in KINDS if kind.quota_capability}
CREDITS = Credits(balance=50, realtime=42.5, pending=7.5)


def facts(*capabilities: Capability, credits: Credits | None = CREDITS) -> QuotaFacts:
    return QuotaFacts(capabilities, credits)


def count(code: str, current: float, maximum: float) -> Capability:
    return Capability(code, "RESOURCE", "ALL_TIME", current, maximum)


def change(address: str, kind: str, action: Action = Action.CREATE) -> Change:
    return Change(address, kind, action)


def test_creates_over_a_count_quota_block_with_the_numbers_and_addresses():
    changes = [change("bucket.a", "bucket"), change("bucket.b", "bucket"), change("repo.r", "repo")]
    report = quota_report(
        changes, facts(count("BUCKETS_COUNT", 9, 10), count("REPOS_COUNT", 0, 5)), COUNTED_BY
    )
    (blocker,) = quota_blockers(report)
    assert blocker.rule == "quota"
    assert blocker.addresses == ("bucket.a", "bucket.b")
    assert "quota BUCKETS_COUNT over its maximum: 9 used + 2 created = 11 > 10" in blocker.message
    assert [(r.code, r.current, r.planned, r.max, r.over) for r in report.affected] == [
        ("BUCKETS_COUNT", 9, 11, 10, True),
        ("REPOS_COUNT", 0, 1, 5, False),
    ]


def test_reaching_the_maximum_exactly_is_allowed():
    report = quota_report(
        [change("bucket.a", "bucket")], facts(count("BUCKETS_COUNT", 9, 10)), COUNTED_BY
    )
    assert quota_blockers(report) == []


def test_deletes_replaces_updates_and_uncounted_kinds_add_nothing():
    changes = [
        change("bucket.old", "bucket", Action.DELETE),
        change("bucket.new", "bucket", Action.REPLACE),  # deleted before it is created again
        change("bucket.same", "bucket", Action.UPDATE),
        change("repo.r", "repo"),  # counted by REPOS_COUNT, which this subscription lacks
    ]
    full = facts(count("BUCKETS_COUNT", 10, 10), count("STORAGE_TOTAL_BYTES", 5, 1))
    report = quota_report(changes, full, COUNTED_BY)
    assert quota_blockers(report) == [] and report.affected == ()
    assert [row.planned for row in report.rows] == [10, 5]  # every capability read is kept


def test_a_quota_already_exceeded_blocks_only_a_plan_that_creates_more():
    exceeded = facts(count("BUCKETS_COUNT", 12, 10))
    assert quota_blockers(quota_report([change("repo.r", "repo")], exceeded, COUNTED_BY)) == []
    assert quota_blockers(quota_report([change("bucket.a", "bucket")], exceeded, COUNTED_BY))


def test_every_counted_kind_names_the_code_the_emulator_counts_it_with():
    from fbplan.emulator.store_stats import CAPABILITIES

    assert set(COUNTED_BY.values()) == {
        code for code, kind_type, _ in CAPABILITIES.values() if kind_type == "RESOURCE"
    }


def test_an_unread_quota_blocks_nothing_and_keeps_the_credits():
    report = quota_report([change("bucket.a", "bucket")], QuotaFacts(None, CREDITS), COUNTED_BY)
    assert not report.checked and quota_blockers(report) == [] and report.credits == CREDITS


def test_credits_at_or_below_zero_are_a_note_not_a_blocker():
    for realtime in (0, -3):
        report = quota_report([], facts(credits=Credits(10, realtime, 10 - realtime)), COUNTED_BY)
        (note,) = credit_notes(report)
        assert f"credit balance is {realtime} (GET /credits/balance)" in note
        assert quota_blockers(report) == []
    assert credit_notes(quota_report([], facts(), COUNTED_BY)) == []
    assert credit_notes(quota_report([], facts(credits=None), COUNTED_BY)) == []


def blocked_plan() -> Plan:
    changes = [change("bucket.a", "bucket"), change("bucket.b", "bucket"), change("repo.r", "repo")]
    quota = facts(count("BUCKETS_COUNT", 1, 2), count("REPOS_COUNT", 0, 3), count("EGRESS", 0, 9))
    report = quota_report(changes, quota, COUNTED_BY)
    return Plan(workspace="team", changes=changes, quota=report, blockers=quota_blockers(report))


def test_text_shows_the_capabilities_the_creates_count_against():
    text = render_text(blocked_plan())
    table = text.split("Quota (organization-wide):\n", 1)[1].split("\n\n", 1)[0]
    assert table.splitlines() == [
        "  capability     current  planned  max",
        "  BUCKETS_COUNT  1        3        2    over the quota",
        "  REPOS_COUNT    0        1        3",
    ]
    assert text.index("Blocked:") < text.index("Quota (organization-wide):")  # blockers first


def test_markdown_shows_the_table_near_the_top_before_the_changes():
    markdown = render_markdown(blocked_plan())
    assert "| `BUCKETS_COUNT` | 1 | 3 | 2 | 🔴 over the quota |" in markdown
    assert "| `REPOS_COUNT` | 0 | 1 | 3 | 🟢 |" in markdown
    assert (
        markdown.index("**Blocked:**")
        < markdown.index("#### Quota")
        < markdown.index("#### Changes")
    )


def test_json_has_a_quota_section_with_every_capability_read():
    document = json.loads(render_json(blocked_plan()))
    quota = document["quota"]
    assert quota["checked"] is True
    assert quota["credits"] == {"balance": 50, "realtime_balance": 42.5, "pending": 7.5}
    buckets, repos, egress = quota["capabilities"]
    assert buckets == {
        "code": "BUCKETS_COUNT",
        "type": "RESOURCE",
        "period": "ALL_TIME",
        "current": 1,
        "planned": 3,
        "max": 2,
        "over": True,
        "creates": ["bucket.a", "bucket.b"],
    }
    assert (repos["over"], egress["planned"], egress["creates"]) == (False, 0, [])
    assert document["blockers"][0]["rule"] == "quota"


def test_a_drift_report_and_a_plan_without_a_quota_read_have_no_section():
    assert "quota" not in json.loads(render_json(blocked_plan(), drift=True))
    assert "quota" not in json.loads(render_json(Plan(workspace="team")))
    assert "Quota" not in render_markdown(blocked_plan(), drift=True)


def test_the_quota_section_survives_a_plan_file(tmp_path: Path):
    plan = blocked_plan()
    save_plan(plan, tmp_path / "plan.json")
    again = load_plan(tmp_path / "plan.json")
    assert again.quota == plan.quota
    assert render_text(again) == render_text(plan)
