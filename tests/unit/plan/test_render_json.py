"""render_json: the versioned document, its order and layout, drift fields, redaction."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from fbplan.plan.model import Action, Blocker, Change, FieldChange, Plan, Unmanaged
from fbplan.plan.planfile import schema
from fbplan.plan.render import render_json
from fbplan.secrets.values import MASK, register

TOP_KEYS = [
    "format_version",
    "kind",
    "workspace",
    "spec_path",
    "spec_digest",
    "live_digest",
    "rotate",
    "targets",
    "excludes",
    "variables",
    "force",
    "summary",
    "blockers",
    "changes",
    "unmanaged",
    "notes",
]
CHANGE_KEYS = [
    "address",
    "kind",
    "action",
    "fields",
    "reasons",
    "new_credentials",
    "protect",
    "before",
    "after",
    "live_id",
]


def plan() -> Plan:
    return Plan(
        workspace="ws",
        changes=[
            Change("workspace", "workspace", Action.NOOP, before={}, after={}, live_id="w"),
            Change("bucket.a", "bucket", Action.CREATE, after={"z": 1, "a": {"y": 2, "b": 3}}),
            Change(
                "provider_key.p",
                "provider_key",
                Action.UPDATE,
                fields=(FieldChange("secret", "plain-old", "plain-new", sensitive=True),),
                live_id="p-1",
            ),
            Change("bucket.old", "bucket", Action.DELETE, before={"bucket": "o"}, live_id="b-9"),
        ],
        unmanaged=[Unmanaged("ai_llm.x", "ai_llm", None, prunable=False)],
        notes=["n"],
        blockers=[Blocker("threshold", "too many", ("bucket.old",))],
        spec_digest="abc",
        live_digest="def",
        spec_path="spec.yaml",
    )


def test_layout_order_and_trailing_newline() -> None:
    text = render_json(plan())
    assert text.endswith("}\n")
    assert text.startswith('{\n  "format_version": 1,\n  "kind": "plan",\n')
    document = json.loads(text)
    assert list(document) == TOP_KEYS
    assert all(list(c) == CHANGE_KEYS for c in document["changes"])
    assert list(document["changes"][1]["after"]) == ["a", "z"]
    assert list(document["changes"][1]["after"]["a"]) == ["b", "y"]
    assert render_json(plan()) == text  # stable


def test_summary_and_items() -> None:
    document = json.loads(render_json(plan()))
    assert document["summary"] == {
        "create": 1,
        "update": 1,
        "replace": 0,
        "delete": 1,
        "no_op": 1,
        "unmanaged": 1,
    }
    assert document["unmanaged"] == [
        {"address": "ai_llm.x", "kind": "ai_llm", "live_id": None, "prunable": False}
    ]
    assert document["blockers"] == [
        {"rule": "threshold", "message": "too many", "addresses": ["bucket.old"]}
    ]
    Draft202012Validator(schema()).validate(document)


def test_sensitive_field_values_are_masked() -> None:
    text = render_json(plan())
    field = json.loads(text)["changes"][2]["fields"][0]
    assert field == {"field": "secret", "before": MASK, "after": MASK, "sensitive": True}
    assert "plain-" not in text


def test_drift_document() -> None:
    document = json.loads(render_json(plan(), drift=True))
    assert document["kind"] == "drift"
    assert document["drift"] == {"changed": 1, "missing": 1, "unmanaged": 2}
    assert [c["drift"] for c in document["changes"]] == ["none", "missing", "changed", "unmanaged"]
    assert list(document["changes"][0])[:4] == ["address", "kind", "action", "drift"]
    Draft202012Validator(schema()).validate(document)


def test_schema_rejects_a_drift_document_without_drift_counts() -> None:
    document = json.loads(render_json(plan(), drift=True))
    del document["drift"]
    assert not Draft202012Validator(schema()).is_valid(document)


def test_a_secret_is_masked_even_where_json_would_escape_it() -> None:
    secret = 'q"uo\\te-välue-42'
    register(secret)
    leaky = Plan(
        workspace="ws",
        changes=[Change("bucket.a", "bucket", Action.CREATE, after={"endpoint": secret})],
        notes=[f"note {secret}"],
    )
    for drift in (False, True):
        text = render_json(leaky, drift=drift)
        assert secret not in text
        assert json.dumps(secret) not in text
        assert "välue" not in text
        assert json.loads(text)["changes"][0]["after"]["endpoint"] == MASK
