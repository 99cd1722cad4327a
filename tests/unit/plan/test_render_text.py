"""render_text: markers, phrases, sensitive values, colour, drift wording, the summary."""

from __future__ import annotations

from fbplan.plan.model import Action, Blocker, Change, FieldChange, Plan, Unmanaged
from fbplan.plan.render import render_text
from fbplan.secrets.values import MASK, register


def mixed_plan() -> Plan:
    return Plan(
        workspace="ws",
        changes=[
            Change("workspace", "workspace", Action.NOOP, live_id="w-1"),
            Change("bucket.new", "bucket", Action.CREATE, after={"bucket": "b", "region": None}),
            Change(
                "repo.app",
                "repo",
                Action.UPDATE,
                fields=(FieldChange("mode", "NORMAL", "MIRROR"),),
                live_id="r-1",
            ),
            Change(
                "repo.app.api_key.k",
                "repo_api_key",
                Action.REPLACE,
                fields=(FieldChange("access", "WRITE", "READ"),),
                reasons=("access cannot change in place",),
                new_credentials=True,
                live_id="k-1",
            ),
            Change(
                "bucket.old",
                "bucket",
                Action.DELETE,
                before={"bucket": "o"},
                reasons=("not in the spec, and prune is on",),
                live_id="b-9",
            ),
        ],
        unmanaged=[Unmanaged("ai_llm.stray", "ai_llm", "l-1")],
        notes=["a note"],
        blockers=[Blocker("protect", "bucket.old is protected.", ("bucket.old",))],
    )


def test_blocks_have_marker_address_and_phrase() -> None:
    out = render_text(mixed_plan())
    assert "+ bucket.new will be created\n" in out
    assert "~ repo.app will be updated in place\n" in out
    assert "-/+ repo.app.api_key.k must be replaced\n" in out
    assert "- bucket.old will be destroyed\n" in out
    assert "workspace will" not in out  # no-op changes are not shown


def test_fields_reasons_and_new_credentials() -> None:
    out = render_text(mixed_plan())
    assert '    mode: "NORMAL" -> "MIRROR"\n' in out
    assert '    access: "WRITE" -> "READ"\n' in out
    assert "    # forces replacement: access cannot change in place\n" in out
    assert (
        "    # new credentials: applications using this key must be given the new secret\n" in out
    )
    assert "    # not in the spec, and prune is on\n" in out
    assert '    bucket: "b"\n' in out
    assert "region" not in out  # unset fields of a create are left out


def test_unmanaged_notes_blockers_and_summary_last() -> None:
    plan = mixed_plan()
    out = render_text(plan)
    assert "Unmanaged (not in the spec, left alone):\n  ai_llm.stray (ai_llm, id l-1)\n" in out
    assert "Notes:\n  - a note\n" in out
    assert "Blocked: bucket.old is protected. (protect: bucket.old)\n" in out
    assert out.endswith(f"\n{plan.summary()}\n")
    assert out.splitlines()[-1] == "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete."


def test_empty_plan() -> None:
    plan = Plan(workspace="ws", changes=[Change("workspace", "workspace", Action.NOOP)])
    out = render_text(plan)
    assert out == (
        'fbplan plan for workspace "ws"\n\nNo changes. The live workspace matches the spec.\n'
    )
    assert render_text(plan, drift=True).splitlines()[-1] == "No drift."


def test_sensitive_fields_never_show_a_value() -> None:
    plan = Plan(
        workspace="ws",
        changes=[
            Change(
                "provider_key.p",
                "provider_key",
                Action.UPDATE,
                fields=(
                    FieldChange("secret", "old-plain-value", "new-plain-value", sensitive=True),
                ),
            ),
            Change("ai_llm.x", "ai_llm", Action.CREATE, after={"key": MASK}),
        ],
    )
    out = render_text(plan)
    assert "    secret: (sensitive value changed)\n" in out
    assert "    key: (sensitive)\n" in out
    assert "plain-value" not in out


def test_colour_only_when_asked() -> None:
    plain = render_text(mixed_plan())
    assert "\x1b[" not in plain
    coloured = render_text(mixed_plan(), color=True)
    assert "\x1b[32m+\x1b[0m bucket.new" in coloured
    assert "\x1b[33m~\x1b[0m repo.app " in coloured
    assert "\x1b[31m-\x1b[0m bucket.old" in coloured
    assert "\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m repo.app.api_key.k" in coloured


def test_drift_wording() -> None:
    out = render_text(mixed_plan(), drift=True)
    assert out.startswith('fbplan drift report for workspace "ws"\n')
    assert "~ repo.app has changed\n" in out
    assert "~ repo.app.api_key.k has changed\n" in out
    assert "+ bucket.new is missing (declared, not live)\n" in out
    assert "- bucket.old is unmanaged (live, not in the spec)\n" in out
    assert "Unmanaged (live, not in the spec):\n" in out
    assert "Blocked" not in out  # a drift report applies nothing
    assert out.splitlines()[-1] == "Drift: 2 changed, 1 missing, 2 unmanaged."


def test_output_is_redacted() -> None:
    register("leaked-token-9f8e7d")
    plan = Plan(
        workspace="ws",
        changes=[
            Change(
                "bucket.b",
                "bucket",
                Action.CREATE,
                after={"endpoint": "https://u:leaked-token-9f8e7d@host"},
            )
        ],
        notes=["oops leaked-token-9f8e7d"],
    )
    out = render_text(plan) + render_text(plan, drift=True, color=True)
    assert "leaked-token-9f8e7d" not in out
    assert f"oops {MASK}" in out
