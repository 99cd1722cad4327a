"""The contract's validators copy each `$ref`'s definition in place (cheaper on every
request the emulator checks): they find exactly the problems the `$ref` form finds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator

from fbplan import contract
from fbplan.contract import _documents, _problems, inline_refs, reading_form

# Values tried in every field: each JSON type, enum spellings, nested shapes, empties.
PALETTE: tuple[Any, ...] = (
    None,
    True,
    0,
    1.5,
    "",
    "x",
    "S3",
    "NORMAL",
    [{}],
    ["x"],
    [{"bucketId": "b", "folder": "f", "master": True}],
    {},
    {"id": "i", "name": "n", "storageType": 1},
)


def _defs() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for _, document in _documents():
        defs.update(document.get("$defs", {}))
    return defs


def _schemas() -> Iterator[tuple[str, Any, dict[str, Any]]]:
    defs = _defs()
    reading_defs = {name: reading_form(schema) for name, schema in defs.items()}
    for _, document in _documents():
        for entry in document.get("endpoints", ()):
            name = f"{entry['method']} {entry['path']}"
            for part, schema in (
                ("query", entry.get("query")),
                ("request", entry.get("request")),
                ("response", entry["response"]["schema"]),
            ):
                if schema is not None:
                    yield f"{name} {part}", schema, defs
            yield f"{name} reading", reading_form(entry["response"]["schema"]), reading_defs


def _instances(schema: dict[str, Any], defs: dict[str, Any]) -> Iterator[Any]:
    """Every palette value alone, and in each property of an object that has them all."""
    yield from PALETTE
    resolved = inline_refs(schema, defs)
    names = list(resolved.get("properties", {})) if isinstance(resolved, dict) else []
    full = {name: "x" for name in names}
    for name, value in itertools.product(names, PALETTE):
        yield {**full, name: value}


def test_inlined_validators_find_the_same_problems() -> None:
    for name, schema, defs in _schemas():
        by_ref = Draft202012Validator({**schema, "$defs": defs})
        inlined = Draft202012Validator({**inline_refs(schema, defs), "$defs": defs})
        for instance in _instances(schema, defs):
            found = _problems(inlined, instance, "body")
            assert found == _problems(by_ref, instance, "body"), (name, instance)


def test_every_ref_of_the_contract_is_inlined() -> None:
    """No `$ref` is left to resolve on a request (none of the definitions is recursive)."""
    defs = _defs()
    for name, schema, schema_defs in _schemas():
        assert '"$ref"' not in repr(inline_refs(schema, schema_defs)).replace("'", '"'), name
    assert inline_refs({"$ref": "#/$defs/Loop"}, {"Loop": {"items": {"$ref": "#/$defs/Loop"}}}) == {
        "items": {"$ref": "#/$defs/Loop"}
    }
    assert defs  # the contract has definitions to inline


def test_the_loaded_contract_still_refuses_a_bad_request() -> None:
    endpoint = contract.load().find("POST", "/repo")
    assert endpoint is not None
    problems = endpoint.request_problems({}, {"name": "r", "storageType": "S4", "mode": "NORMAL"})
    assert [str(p) for p in problems] == [
        "body.workspaceId: is required",
        "body.repoBuckets: is required",
        'body.storageType: is "S4"; expected one of "S3", "GCS", "BLOB"',
    ]
