"""render_markdown: PR-comment layout, size limit and truncation, escaping, redaction."""

from __future__ import annotations

import re

import pytest

from fbplan.plan.model import Action, Blocker, Change, FieldChange, Plan, Unmanaged
from fbplan.plan.render import render_markdown
from fbplan.plan.render.markdown import code, text
from fbplan.secrets.values import register

MORE = re.compile(r"^… and (\d+) more changes not shown \(see the full plan in the CI log\)$", re.M)


def big_plan(creates: int = 1990, deletes: int = 10) -> Plan:
    changes = [
        Change(
            f"bucket.b{i:04d}",
            "bucket",
            Action.CREATE,
            after={"bucket": f"acme-bucket-{i:04d}", "region": "us-east-1", "storage_type": "S3"},
        )
        for i in range(creates)
    ]
    changes += [
        Change(
            f"repo.r{i:04d}",
            "repo",
            Action.DELETE,
            before={"mode": "NORMAL"},
            reasons=("not in the spec, and prune is on",),
            live_id=f"r-{i}",
        )
        for i in range(deletes)
    ]
    return Plan(workspace="big", changes=changes)


def table_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"^\| \S+ \| `", line)]


def test_layout() -> None:
    plan = Plan(
        workspace="ws",
        changes=[
            Change(
                "repo.app",
                "repo",
                Action.UPDATE,
                fields=(FieldChange("mode", "NORMAL", "MIRROR"),),
            )
        ],
        unmanaged=[Unmanaged("ai_llm.x", "ai_llm", "l-1")],
        notes=["a note"],
        blockers=[Blocker("protect", "repo.app is protected.", ("repo.app",))],
    )
    out = render_markdown(plan)
    assert out.startswith("> [!CAUTION]\n")  # what stops apply is the first thing read
    assert "> - repo.app is protected. (protect: repo.app)\n\n### fbplan plan: `ws`\n" in out
    assert "### fbplan plan: `ws`\n\n**Plan: 0 to create, 1 to update," in out
    assert "| 🟡 update | 1 |" in out
    assert "| 🟡 | `repo.app` | update | `mode` |" in out
    assert "<details><summary>🟡 <code>repo.app</code> will be updated in place</summary>" in out
    assert '```diff\n- mode: "NORMAL"\n+ mode: "MIRROR"\n```\n\n</details>' in out
    assert "#### Unmanaged (not in the spec, left alone)" in out
    assert "| `ai_llm.x` | ai\\_llm | `l-1` | yes |" not in out  # intraword _ stays plain
    assert "| `ai_llm.x` | ai_llm | `l-1` | yes |" in out
    assert "#### Notes\n\n- a note" in out
    assert MORE.search(out) is None


def test_2000_changes_fit_with_an_explicit_truncation_line() -> None:
    plan = big_plan()
    out = render_markdown(plan)
    assert len(out) <= 60_000
    match = MORE.search(out)
    assert match is not None
    rows = table_rows(out)
    assert int(match.group(1)) == 2000 - len(rows)
    assert len(rows) > 100
    assert out.count("<details>") == len(rows)
    for i in range(10):  # destructive changes are shown first
        assert f"`repo.r{i:04d}`" in out


@pytest.mark.parametrize("max_chars", [65_536, 20_000, 3_000, 500, 40])
def test_max_chars_is_respected(max_chars: int) -> None:
    out = render_markdown(big_plan(), max_chars=max_chars)
    assert len(out) <= max_chars


def test_drift_counts_and_truncation() -> None:
    out = render_markdown(big_plan(), drift=True, max_chars=10_000)
    assert "**Drift: 0 changed, 1990 missing, 10 unmanaged.**" in out
    assert "#### Drift" in out
    assert MORE.search(out) is not None


def test_long_unmanaged_and_notes_lists_are_capped() -> None:
    plan = Plan(
        workspace="ws",
        unmanaged=[Unmanaged(f"bucket.u{i}", "bucket", f"id-{i}") for i in range(2000)],
        notes=[f"note {i}" for i in range(500)],
    )
    out = render_markdown(plan)
    assert len(out) <= 60_000
    assert re.search(r"… and \d+ more unmanaged objects not shown", out)
    assert re.search(r"… and \d+ more notes not shown", out)


def cells(row: str) -> list[str]:
    """Split a table row on the pipes GFM treats as cell separators (not `\\|`)."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_pipes_and_backticks_are_escaped_in_table_cells() -> None:
    address = "bucket.a|b`c``d"
    plan = Plan(
        workspace="ws",
        changes=[
            Change(
                address,
                "bucket",
                Action.UPDATE,
                fields=(FieldChange("x|`y", 1, 2),),
            )
        ],
        unmanaged=[Unmanaged("ai_llm.p|q", "kind|`k`", "id|1")],
    )
    out = render_markdown(plan)
    change_row = next(line for line in out.splitlines() if line.startswith("| 🟡 |"))
    assert len(cells(change_row)) == 4
    assert cells(change_row)[1].strip() == "```bucket.a\\|b`c``d```"
    assert cells(change_row)[3].strip() == "``x\\|`y``"
    unmanaged_row = next(line for line in out.splitlines() if "ai_llm.p" in line)
    assert len(cells(unmanaged_row)) == 4
    assert cells(unmanaged_row)[1].strip() == "kind\\|\\`k\\`"
    assert "<code>bucket.a|b`c``d</code>" in out


def test_escape_helpers() -> None:
    assert code("plain") == "`plain`"
    assert code("a`b") == "``a`b``"
    assert code("`edge`") == "`` `edge` ``"
    assert code("a|b", cell=True) == "`a\\|b`"
    assert text("a|b `c` *d* <e> [f]") == "a\\|b \\`c\\` \\*d\\* \\<e\\> \\[f\\]"
    assert text("api_key _x_") == "api_key \\_x\\_"
    assert text("# not a heading") == "\\# not a heading"


def test_diff_fence_is_longer_than_any_backtick_run_inside() -> None:
    plan = Plan(
        workspace="ws",
        changes=[Change("policy.p", "policy", Action.CREATE, after={"content": "x ``` y"})],
    )
    out = render_markdown(plan)
    assert '````diff\n+ content: "x ``` y"\n````' in out


def test_output_is_redacted() -> None:
    register("md-secret-7c6b5a")
    plan = Plan(
        workspace="ws",
        changes=[
            Change("bucket.b", "bucket", Action.CREATE, after={"endpoint": "x<md-secret-7c6b5a>"})
        ],
        notes=["md-secret-7c6b5a"],
    )
    for drift in (False, True):
        assert "md-secret-7c6b5a" not in render_markdown(plan, drift=drift)
