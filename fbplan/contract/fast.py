"""A fast yes/no for the contract's schemas: is this answer valid?

The backend client checks every answer it reads against the reading form of its schema
(`Endpoint.reading_problems`). jsonschema walks a schema as an interpreter, some 20 us a
node: the repo list of a workspace of 150 repositories (2.5 MB, each repo carrying its
buckets, AI LLMs and keys in full) cost it 2 s of CPU, on the refresh's critical path. This
module turns a schema into nested Python closures once, which answer the same question in a
small fraction of that time. An answer it accepts is accepted; one it rejects goes to
jsonschema, which finds and describes the problems as before. So the fast check must never
accept what jsonschema rejects (tests/unit/contract/test_fast_check.py holds them to
agree): it knows only the keywords the contract uses, read the way jsonschema's draft
2020-12 reads them, and a schema with any other keyword gets no fast check at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that assert nothing (annotations): ignored, as jsonschema ignores them.
_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples", "default", "$defs"})
_REF_PREFIX = "#/$defs/"


class Unsupported(Exception):
    """The schema uses a keyword (or form of one) the fast check does not implement."""


def compile_check(schema: Any, defs: Mapping[str, Any]) -> Check | None:
    """A function that is true exactly when jsonschema finds `schema` (whose `$ref`s point
    into `defs`) valid for an instance; None if the schema uses anything else."""
    try:
        return _Compiler(defs).compile(schema)
    except Unsupported:
        return None


class _Compiler:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._defs = defs
        self._compiled: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise Unsupported(repr(schema)[:60])
        checks = [self._keyword(schema, key) for key in schema if key not in _ANNOTATIONS]
        return _all_of([c for c in checks if c is not None])

    def _keyword(self, schema: Mapping[str, Any], key: str) -> Check | None:
        value = schema[key]
        match key:
            case "type":
                return _type_check(value)
            case "properties":
                return self._properties(value)
            case "required":
                return _required(value)
            case "additionalProperties":
                return self._additional(value, schema.get("properties") or {})
            case "items":
                return _each(self.compile(value))
            case "anyOf":
                alternatives = [self.compile(s) for s in value]
                return lambda instance: any(check(instance) for check in alternatives)
            case "allOf":
                return _all_of([self.compile(s) for s in value])
            case "$ref":
                return self._ref(value)
            case "const":
                return lambda instance: _equal(instance, value)
            case "enum":
                return lambda instance: any(_equal(instance, v) for v in value)
            case _:
                return _scalar_keyword(key, value)

    def _properties(self, properties: Mapping[str, Any]) -> Check:
        checks = [(name, self.compile(sub)) for name, sub in properties.items()]

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            return all(sub(instance[name]) for name, sub in checks if name in instance)

        return check

    def _additional(self, value: Any, properties: Mapping[str, Any]) -> Check | None:
        if value is True:
            return None
        if value is not False:
            raise Unsupported("additionalProperties with a schema")
        known = frozenset(properties)
        return lambda instance: not isinstance(instance, dict) or instance.keys() <= known

    def _ref(self, ref: Any) -> Check:
        if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX):
            raise Unsupported(f"$ref {ref!r}")
        name = ref.removeprefix(_REF_PREFIX)
        if name not in self._defs:
            raise Unsupported(f"$ref to a missing definition {name!r}")
        if name not in self._compiled:
            # Bound late, so that a definition may refer to itself.
            self._compiled[name] = lambda instance: self._compiled[name](instance)
            self._compiled[name] = self.compile(self._defs[name])
        return self._compiled[name]


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda instance: all(check(instance) for check in checks)


def _each(item: Check) -> Check:
    return lambda instance: not isinstance(instance, list) or all(map(item, instance))


def _required(names: list[str]) -> Check:
    wanted = tuple(names)
    return lambda instance: not isinstance(instance, dict) or all(n in instance for n in wanted)


def _is_integer(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()  # jsonschema's draft 2020-12: 1.0 is an integer
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type_check(value: Any) -> Check:
    names = [value] if isinstance(value, str) else list(value)
    if not names or any(name not in _TYPES for name in names):
        raise Unsupported(f"type {value!r}")
    checks = [_TYPES[name] for name in names]
    if len(checks) == 1:
        return checks[0]
    return lambda instance: any(check(instance) for check in checks)


def _scalar_keyword(key: str, value: Any) -> Check:
    """The keywords that constrain one type of value and let every other type pass."""
    match key:
        case "minLength" | "maxLength" if _is_integer(value):
            bound = int(value)
            if key == "minLength":
                return lambda v: not isinstance(v, str) or len(v) >= bound
            return lambda v: not isinstance(v, str) or len(v) <= bound
        case "pattern" if isinstance(value, str):
            search = re.compile(value).search
            return lambda v: not isinstance(v, str) or search(v) is not None
        case "minimum" if _is_number(value):
            return lambda v: not _is_number(v) or not v < value
        case "maximum" if _is_number(value):
            return lambda v: not _is_number(v) or not v > value
    raise Unsupported(f"keyword {key}")


def _equal(one: Any, other: Any) -> bool:
    """JSON equality as jsonschema's `const` and `enum` read it: a boolean is not a number,
    1 and 1.0 are equal, containers compare item by item."""
    if isinstance(one, bool) or isinstance(other, bool):
        return isinstance(one, bool) and isinstance(other, bool) and one == other
    if isinstance(one, dict) and isinstance(other, dict):
        return one.keys() == other.keys() and all(_equal(one[k], other[k]) for k in one)
    if isinstance(one, list) and isinstance(other, list):
        return len(one) == len(other) and all(map(_equal, one, other))
    if _is_number(one) and _is_number(other):
        return bool(one == other)
    return type(one) is type(other) and bool(one == other)
