"""The fast reading check says "valid" exactly when jsonschema does.

The client skips jsonschema for an answer the fast check accepts, so an answer it wrongly
accepted would be read unchecked: each keyword's edge cases are compared with jsonschema
itself here, and real answers of the emulator, mutated at random, in
tests/integration/test_reading_check.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from fbplan import contract
from fbplan.contract.fast import compile_check

DEFS: dict[str, Any] = {
    "Node": {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[a-z]"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
        },
    },
}
SCHEMAS: dict[str, Any] = {
    "integer": {"type": "integer"},
    "number or null": {"type": ["number", "null"]},
    "boolean": {"type": "boolean"},
    "bounded": {"type": "number", "minimum": 0, "maximum": 13},
    "const true": {"const": True},
    "enum of numbers": {"enum": [0, 1, 2]},
    "enum of strings": {"enum": ["S3", "GCS"]},
    "const object": {"const": {"a": [1, "x"]}},
    "closed object": {
        "type": "object",
        "additionalProperties": False,
        "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"anyOf": [{"type": "integer"}, {}]}},
    },
    "open object": {"type": "object", "additionalProperties": True, "properties": {}},
    "recursive": {"$ref": "#/$defs/Node"},
    "ref and siblings": {"$ref": "#/$defs/Node", "required": ["children"]},
    "all of": {"allOf": [{"type": "object"}, {"required": ["x"]}], "description": "ignored"},
    "true": True,
    "false": False,
}
SAMPLES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    1.5,
    -3,
    13,
    14,
    "",
    "a",
    "A1",
    "abcdefghi",
    "S3",
    "gcs",
    [],
    [1, "x"],
    [True, "x"],
    {},
    {"a": "x"},
    {"a": "x", "b": 1},
    {"a": "x", "b": 1.5},
    {"a": "x", "c": 1},
    {"a": 1},
    {"a": [1, "x"]},
    {"a": [True, "x"]},
    {"x": None},
    {"id": "a"},
    {"id": "a", "children": []},
    {"id": "a", "children": [{"id": "b"}, {"id": "c", "children": [{"id": ""}]}]},
    {"id": "a", "children": [{"id": "b", "children": [{"name": "no id"}]}]},
    {"id": "a", "children": {"id": "b"}},
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 20) | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "b", "c", "id", "children", "x"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_keyword_agrees_with_jsonschema_on_its_edge_cases(name: str) -> None:
    schema = SCHEMAS[name]
    check = compile_check(schema, DEFS)
    assert check is not None
    validator = Draft202012Validator({"$defs": DEFS, "allOf": [schema]})
    for sample in SAMPLES:
        assert check(sample) == validator.is_valid(sample), sample


@given(name=st.sampled_from(sorted(SCHEMAS)), instance=JSON)
def test_any_json_value_gets_jsonschemas_verdict(name: str, instance: Any) -> None:
    schema = SCHEMAS[name]
    validator = Draft202012Validator({"$defs": DEFS, "allOf": [schema]})
    assert compile_check(schema, DEFS)(instance) == validator.is_valid(instance)  # type: ignore[misc]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "date-time"},
        {"prefixItems": [{"type": "string"}]},
        {"additionalProperties": {"type": "string"}},
        {"$ref": "https://example.com/other.json"},
        {"$ref": "#/$defs/Missing"},
        {"type": "decimal"},
    ],
)
def test_a_keyword_it_does_not_know_leaves_the_schema_to_jsonschema(schema: Any) -> None:
    assert compile_check(schema, DEFS) is None


def test_every_answer_fbplan_reads_has_a_fast_check() -> None:
    endpoints = [e for e in contract.load() if e.method == "GET"]
    assert endpoints
    assert [e for e in endpoints if e._reading_check is None] == []


def test_a_wrong_answer_is_still_described_by_jsonschema() -> None:
    endpoint = contract.load().find("GET", "/workspace")
    assert endpoint is not None
    body = {"success": True, "workspaces": [{"name": "acme", "orgId": "o", "users": []}]}
    (problem,) = endpoint.reading_problems(body)
    assert str(problem) == "response.workspaces[0].id: is required"
