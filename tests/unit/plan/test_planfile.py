"""Plan files: exact round trip, atomic 0600 writes, clear errors, never a secret."""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from fbplan.errors import ConfigError
from fbplan.model import Resource, State
from fbplan.plan.diff import diff
from fbplan.plan.model import Action, Blocker, Change, FieldChange, Plan, Unmanaged
from fbplan.plan.planfile import load_plan, save_plan
from fbplan.plan.render import render_json, render_markdown, render_text
from fbplan.secrets.values import MASK, Secret

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_PLANS = sorted(GOLDEN.glob("*.plan.json"))


def rich_plan() -> Plan:
    return Plan(
        workspace="acme-prod",
        changes=[
            Change("workspace", "workspace", Action.NOOP, before={"n": 1}, after={"n": 1}),
            Change(
                "repo.app",
                "repo",
                Action.REPLACE,
                before={"buckets": [{"bucket": "m", "master": True}], "x": None, "f": 1.5},
                after={"buckets": [], "x": "é", "f": 2},
                fields=(
                    FieldChange("buckets", [{"bucket": "m", "master": True}], []),
                    FieldChange("secret", MASK, MASK, sensitive=True),
                ),
                reasons=("storage_type cannot change in place",),
                new_credentials=True,
                protect=True,
                live_id="r-1",
            ),
            Change("bucket.a", "bucket", Action.CREATE, after={"bucket": "a"}),
            Change("bucket.o", "bucket", Action.DELETE, before={}, live_id="b-2"),
        ],
        unmanaged=[
            Unmanaged("ai_llm.x", "ai_llm", "l-1"),
            Unmanaged("provider_key.id:1", "provider_key", None, prunable=False),
        ],
        notes=["first", "second"],
        blockers=[Blocker("threshold", "too many.", ("bucket.o", "repo.app")), Blocker("x", "y")],
        spec_digest="a" * 64,
        live_digest="b" * 64,
        spec_path="specs/prod",
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    plan = rich_plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    assert load_plan(path) == plan


@pytest.mark.parametrize("golden", GOLDEN_PLANS, ids=lambda p: p.name)
def test_golden_plans_load_and_save_back_identically(golden: Path, tmp_path: Path) -> None:
    plan = load_plan(golden)
    assert render_json(plan) == golden.read_text(encoding="utf-8")
    save_plan(plan, tmp_path / "p.json")
    assert (tmp_path / "p.json").read_text(encoding="utf-8") == golden.read_text(encoding="utf-8")
    assert load_plan(tmp_path / "p.json") == plan


def test_written_0600_atomically_over_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    path.chmod(0o644)
    save_plan(rich_plan(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["kind"] == "plan"
    assert os.listdir(tmp_path) == ["plan.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ConfigError, match=r"cannot write plan file .*No space left on device"):
        save_plan(rich_plan(), path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["plan.json"]


def test_save_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write plan file"):
        save_plan(rich_plan(), tmp_path / "nope" / "plan.json")


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(content, encoding="utf-8")
    return path


def document() -> dict[str, object]:
    return json.loads(render_json(rich_plan()))


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    assert str(info.value) == f"plan file {path} does not exist."


def test_a_folder_is_not_a_plan_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read plan file"):
        load_plan(tmp_path)


def test_a_named_pipe_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as info:
        load_plan(fifo)
    assert str(info.value) == (
        f"cannot read plan file {fifo}: it is a named pipe (FIFO), not a regular file."
    )


def test_a_plan_file_over_the_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    save_plan(rich_plan(), path)
    monkeypatch.setattr("fbplan.plan.planfile.MAX_PLAN_BYTES", 100)
    with pytest.raises(ConfigError, match=r"it is larger than the 100-byte limit\.$"):
        load_plan(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"format_version": 1,\n oops}')
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    assert str(info.value).startswith(f"plan file {path} is not valid JSON (line 2, column 2:")


def test_newer_format(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(document() | {"format_version": 2}))
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    assert str(info.value) == (
        f"plan file {path} was written by a newer fbplan (format 2); this fbplan reads format 1."
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "is not an fbplan plan (expected a JSON object)."),
        ("{}", "is not an fbplan plan (no format_version)."),
        ('{"format_version": true}', "is not an fbplan plan (no format_version)."),
        ('{"format_version": 0}', "has format 0, which this fbplan does not read"),
    ],
)
def test_not_a_plan(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_plan(path)


def test_a_drift_report_is_not_a_plan(tmp_path: Path) -> None:
    path = write(tmp_path, render_json(rich_plan(), drift=True))
    with pytest.raises(ConfigError, match="holds a drift report, not a plan"):
        load_plan(path)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("changes"), "at the top level, 'changes' is a required property"),
        (lambda d: d["changes"][1].update(action="explode"), "at changes/1/action"),
        (lambda d: d["changes"][0].update(fields="x"), "at changes/0/fields"),
        (lambda d: d["blockers"][0].pop("rule"), "at blockers/0"),
        (lambda d: d["unmanaged"][0].update(prunable="yes"), "at unmanaged/0/prunable"),
    ],
)
def test_wrong_shape(tmp_path: Path, mutate: object, where: str) -> None:
    doc = document()
    mutate(doc)  # type: ignore[operator]
    path = write(tmp_path, json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    message = str(info.value)
    assert message.startswith(f"plan file {path} is not a valid fbplan plan: {where}")
    assert message.endswith(".")
    assert "\n" not in message


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    doc = document() | {"added_later": {"x": 1}}
    path = write(tmp_path, json.dumps(doc))
    assert load_plan(path) == rich_plan()


# --- no secret value, ever ------------------------------------------------------------

SECRET_VALUE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz-plan-test"
AI_SECRET_VALUE = "sk-proj-9a8b7c6d5e4f-plan-test"


def secret_plan() -> Plan:
    """A plan built by the real diff from resources carrying Secret values."""
    desired = State("acme-prod")
    live = State("acme-prod")
    key_attrs = {"provider": "AWS", "key": "AKIA1", "region": "us-east-1"}
    desired.add(
        Resource(
            "provider_key",
            "provider_key.aws",
            "aws",
            attrs=key_attrs,
            secrets={"secret": Secret(SECRET_VALUE, "env:AWS_SECRET_ACCESS_KEY")},
            refs=("workspace",),
        )
    )
    live.add(
        Resource(
            "provider_key",
            "provider_key.aws",
            "aws",
            attrs=key_attrs | {"region": "eu-west-1"},
            refs=("workspace",),
            id="pk-1",
        )
    )
    desired.add(
        Resource(
            "ai_llm",
            "ai_llm.openai",
            "openai",
            attrs={"ai_type": "OPENAI", "endpoint": "https://api.openai.com/v1"},
            secrets={"key": Secret(AI_SECRET_VALUE, "env:OPENAI_API_KEY")},
            refs=("workspace",),
        )
    )
    plan = diff(desired, live, secret_status=lambda address, name, value: "changed")
    return replace(plan, spec_path="specs/acme.yaml")


def test_a_plan_file_and_every_renderer_never_contain_a_secret(tmp_path: Path) -> None:
    plan = secret_plan()
    assert {c.action for c in plan.changes} == {Action.UPDATE, Action.CREATE}
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    outputs = {"plan file": path.read_text(encoding="utf-8")}
    for drift in (False, True):
        outputs[f"text {drift}"] = render_text(plan, drift=drift, color=drift)
        outputs[f"json {drift}"] = render_json(plan, drift=drift)
        outputs[f"markdown {drift}"] = render_markdown(plan, drift=drift)
    for name, output in outputs.items():
        for value in (SECRET_VALUE, AI_SECRET_VALUE, json.dumps(SECRET_VALUE)[1:-1]):
            assert value not in output, name
    assert "(sensitive value changed)" in outputs["text False"]
    assert load_plan(path) == plan
