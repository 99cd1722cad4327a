"""Every renderer escapes control characters: a name or value from the spec or the backend
can neither forge a line of the plan nor drive the terminal (issue 10, point 7)."""

from __future__ import annotations

import json
import re

import pytest

from fbplan.plan.model import Action, Change, FieldChange, Plan, Unmanaged
from fbplan.plan.render import render_json, render_markdown, render_text

FORGED = "+ bucket.evil will be created"
HOSTILE = f"ok\n{FORGED}\x1b[2J\x9b31m\u202etxt.exe\r"
# Raw control characters: C0 but newline (the renderers' own line breaks), DEL, C1, bidi.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def hostile_plan() -> Plan:
    return Plan(
        workspace=f"ws{HOSTILE}",
        changes=[
            Change("policy.p", "policy", Action.CREATE, after={"content": HOSTILE}),
            Change(
                "repo.app",
                "repo",
                Action.UPDATE,
                fields=(FieldChange("mode", HOSTILE, "MIRROR"),),
                reasons=(f"because {HOSTILE}",),
                live_id=f"id{HOSTILE}",
            ),
        ],
        unmanaged=[Unmanaged(f"bucket.{HOSTILE}", "bucket", f"b{HOSTILE}")],
        notes=[f"note {HOSTILE}"],
    )


@pytest.mark.parametrize("drift", [False, True])
def test_text_escapes_every_control_character(drift: bool) -> None:
    text = render_text(hostile_plan(), drift=drift)
    assert not RAW.search(text)
    assert not any(line.startswith(FORGED) for line in text.splitlines())
    assert "\\n" in text and "\\x1b[2J" in text and "\\x9b31m" in text and "\\u202e" in text


def test_text_keeps_its_own_colours_only() -> None:
    text = render_text(hostile_plan(), color=True)
    assert "\x1b[32m" in text  # the create marker's colour
    assert "\x1b[2J" not in text


def test_markdown_escapes_every_control_character() -> None:
    text = render_markdown(hostile_plan())
    assert not RAW.search(text)
    assert not any(line.startswith(FORGED) for line in text.splitlines())


def test_json_escapes_every_control_character_and_keeps_the_values() -> None:
    text = render_json(hostile_plan())
    assert not RAW.search(text)
    document = json.loads(text)
    assert document["changes"][0]["after"]["content"] == HOSTILE  # escaped, not altered


def test_the_smoke_report_escapes_what_a_server_answered() -> None:
    from fbplan.smoke import SmokeReport, SmokeStep, TargetResult
    from fbplan.smoke import render_text as render_smoke

    step = SmokeStep("put", False, 0.1, "http://node", f"the node answered {HOSTILE}")
    report = SmokeReport([TargetResult("storage", "app", "rw", "repo.app.api_key.rw", [step])])
    text = render_smoke(report)
    assert not RAW.search(text)
    assert not any(line.startswith(FORGED) for line in text.splitlines())
