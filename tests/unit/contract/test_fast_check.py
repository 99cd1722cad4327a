"""The generated contract checks (fbplan/contract/checks/) say "valid" exactly when
jsonschema does.

The client skips jsonschema for an answer the generated check accepts, and the emulator for
a request, so a message it wrongly accepted would go unchecked: the generator's code for
each keyword's edge cases is compared with jsonschema itself here, the committed checks on
every schema of the contract too, and on real answers of the emulator, mutated at random,
in tests/integration/test_reading_check.py.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from fbplan import contract
from fbplan.contract import NO_BODY
from tests.unit.schema_generator import generator as _generator

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
    "typed map": {"type": "object", "additionalProperties": {"type": "string"}},
    "recursive": {"$ref": "#/$defs/Node"},
    "ref and siblings": {"$ref": "#/$defs/Node", "required": ["children"]},
    "all of": {"allOf": [{"type": "object"}, {"required": ["x"]}], "description": "ignored"},
    "true": True,
    "false": False,
    "optional string": {"anyOf": [{"type": "string", "minLength": 2}, {"type": "null"}]},
    "optional number": {"anyOf": [{"type": "null"}, {"type": ["integer"], "minimum": 1}]},
    "optional enum": {"anyOf": [{"enum": ["S3", None, 1]}, {"type": "null"}]},
    "optional object": {"anyOf": [{"type": "object", "required": ["a"]}, {"type": "null"}]},
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


@cache
def _generated() -> Callable[[str, Any], bool]:
    """`is_valid(name, instance)` of the code the generator makes for SCHEMAS, as
    scripts/gen_schema_check.py makes the contract's (all in one module, as there)."""
    schemas = {name: {"allOf": [schema], "$defs": DEFS} for name, schema in SCHEMAS.items()}
    code = _generator().checks_code(schemas)
    namespace: dict[str, Any] = {}
    exec(compile(code, "<generated checks>", "exec"), namespace)
    return namespace["is_valid"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_keyword_agrees_with_jsonschema_on_its_edge_cases(name: str) -> None:
    validator = Draft202012Validator({"$defs": DEFS, "allOf": [SCHEMAS[name]]})
    for sample in SAMPLES:
        assert _generated()(name, sample) == validator.is_valid(sample), sample


@given(name=st.sampled_from(sorted(SCHEMAS)), instance=JSON)
def test_any_json_value_gets_jsonschemas_verdict(name: str, instance: Any) -> None:
    validator = Draft202012Validator({"$defs": DEFS, "allOf": [SCHEMAS[name]]})
    assert _generated()(name, instance) == validator.is_valid(instance)


def test_an_optional_field_is_compiled_as_one_more_type_where_that_means_the_same() -> None:
    prepare = _generator().prepare
    optional = {"anyOf": [{"type": "string", "pattern": "^a"}, {"type": "null"}]}
    assert prepare(optional) == {"type": ["string", "null"], "pattern": "^a"}
    for kept in (
        {"anyOf": [{"enum": ["a"]}, {"type": "null"}]},  # enum and const do judge null
        {"anyOf": [{"type": "string", "const": "a"}, {"type": "null"}]},
        {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
        {"anyOf": [{"type": "string"}, {"type": "null"}], "required": ["a"]},
    ):
        assert prepare(kept) == kept


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ({"type": "string", "format": "date-time"}, "format"),
        ({"prefixItems": [{"type": "string"}]}, "prefixItems"),
        ({"$ref": "https://example.com/other.json"}, "not local"),
        ({"$ref": "#/$defs/Missing"}, "Missing"),
        ({"type": "decimal"}, "decimal"),
    ],
)
def test_a_keyword_it_does_not_know_stops_the_generation(schema: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        _generator().checks_code({"GET /x reading": {**schema, "$defs": DEFS}})


def test_every_schema_of_the_contract_has_a_generated_check() -> None:
    missing = [
        (endpoint, part)
        for endpoint in contract.load()
        for part in contract.PARTS
        if endpoint.schema(part) is not None
        and f"{endpoint.method} {endpoint.path} {part}" not in _checks(endpoint, part).CHECKS
    ]
    assert missing == []


def _checks(endpoint: contract.Endpoint, part: str) -> Any:
    module = contract.checks_module(endpoint.source, part)
    return importlib.import_module(f"fbplan.contract.checks.{module}")


# Values tried in every field of every schema: each JSON type, enum spellings, shapes.
PALETTE: tuple[Any, ...] = (
    None, True, 0, 1.0, 1.5, -1, "", "x", "S3", "NORMAL", "OPENAI", "READ", "1", [], [{}],
    ["x"], {}, {"id": "i", "name": "n", "createdAt": "2026-11-29T10:00:00.000Z"},
)  # fmt: skip


def _instances(schema: dict[str, Any]) -> Iterator[Any]:
    """Every palette value alone, and in each property of an object that has them all."""
    yield from PALETTE
    resolved = contract.inline_refs(schema, schema["$defs"])
    names = list(resolved.get("properties", {}))
    full = {name: "x" for name in names}
    for name, value in itertools.product(names, PALETTE):
        yield {**full, name: value}


def test_the_committed_checks_agree_with_jsonschema_on_every_schema_of_the_contract() -> None:
    """The emulator's request checks above all: it must stay exactly as strict."""
    verdicts = []
    for endpoint in contract.load():
        for part in contract.PARTS:
            schema = endpoint.schema(part)
            if schema is None:
                continue
            validator = getattr(endpoint, f"_{part}")
            for instance in _instances(schema):
                fast = endpoint._fast_valid(part, instance)
                assert fast == validator.is_valid(instance), (endpoint, part, instance)
                verdicts.append(fast)
    assert len(verdicts) > 5000
    assert sum(verdicts) > 300  # valid messages are there in numbers too


def test_the_emulator_refuses_a_request_only_jsonschema_can_describe() -> None:
    endpoint = contract.load().find("POST", "/repo")
    assert endpoint is not None
    good = {
        "name": "r",
        "workspaceId": "ws",
        "storageType": "S3",
        "mode": "NORMAL",
        "repoBuckets": [{"bucketId": "b", "folder": "", "master": True}],
    }
    assert endpoint.request_problems({}, good) == []
    assert [str(p) for p in endpoint.request_problems({"x": "1"}, good)] == [
        "query: unknown query parameter x"
    ]
    assert [str(p) for p in endpoint.request_problems({}, NO_BODY)] == [
        "body: a JSON body is required"
    ]
    problems = endpoint.request_problems({}, {**good, "repoBuckets": [{"folder": 1, "master": 1}]})
    assert [str(p) for p in problems] == [
        "body.repoBuckets[0].bucketId: is required",
        "body.repoBuckets[0].folder: must be a string, not a number",
        "body.repoBuckets[0].master: must be a boolean, not a number",
    ]


def test_a_wrong_answer_is_still_described_by_jsonschema() -> None:
    endpoint = contract.load().find("GET", "/workspace")
    assert endpoint is not None
    body = {"success": True, "workspaces": [{"name": "acme", "orgId": "o", "users": []}]}
    (problem,) = endpoint.reading_problems(body)
    assert str(problem) == "response.workspaces[0].id: is required"
