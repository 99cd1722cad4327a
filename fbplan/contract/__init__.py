"""The Flashback backend API contract, as data, and the checks made with it.

The JSON files beside this module (format in ``FORMAT.md``) describe every endpoint that
fbplan or its emulator uses: method, path, query parameters, request body and success
response, transcribed from Flashback's official TypeScript client and the API reference.
Three users, one source of truth:

- the emulator refuses every request that breaks the contract (400 naming the field) and, in
  tests, checks its own answers against it (`Endpoint.request_problems`,
  `Endpoint.response_problems`);
- the backend client checks what it reads with the *reading* form of each response schema
  (`Endpoint.reading_problems`): the same schema made tolerant the way a robust reader is
  (unknown fields ignored, an optional field may be null, the documented alternative form of
  a field, ``x-also``, accepted), so a wrong-shaped answer is one clear error and never a
  crash deep in the code;
- the tests check every payload fbplan builds against the request schemas.

Every check asks the generated fast check first (fbplan/contract/checks/, one module per
contract file, compiled from these schemas by scripts/gen_schema_check.py): a message it
accepts is valid, and jsonschema is imported and run only to describe the problems of one
it rejects.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

NO_BODY: Any = object()
"""The request carried no body at all (distinct from a JSON ``null`` body)."""

# Query values the official client sends for an unset argument (flashback-api.md section 1).
ABSENT_QUERY_VALUES = frozenset({"", "undefined", "null"})
_MAX_PROBLEMS = 5


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a message breaks the contract: where (``body.repoBuckets[0].folder``) and what."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class Endpoint:
    """One endpoint of the contract, with validators built once, when first needed: a
    client whose answers are all valid never imports jsonschema (`_fast_valid`)."""

    def __init__(
        self,
        entry: Mapping[str, Any],
        defs: Mapping[str, Any],
        reading_defs: Mapping[str, Any],
        source: str,
    ) -> None:
        self.method: str = entry["method"]
        self.path: str = entry["path"]
        self.success_status: int = entry["response"]["status"]
        self.source = source
        """The contract file's name without ``.json``: its checks' module in `checks`."""
        self._pattern = _path_pattern(self.path)
        self._entry = entry
        self._defs = defs
        self._reading_defs = reading_defs

    def schema(self, part: str) -> dict[str, Any] | None:
        """The schema of `part` (one of `PARTS`; None for the request of an endpoint that
        takes no body) with its definitions beside: what the validators check (references
        inlined) and scripts/gen_schema_check.py compiles."""
        written = self._written(part)
        defs = self._reading_defs if part == "reading" else self._defs
        return None if written is None else {**written, "$defs": defs}

    def _written(self, part: str) -> Any:
        response = self._entry["response"]["schema"]
        match part:
            case "query":
                return self._entry.get("query", _NO_QUERY)
            case "request":
                return self._entry.get("request")
            case "response":
                return response
            case "reading":
                return reading_form(response)
        raise ValueError(f"no schema part {part!r}")

    @cached_property
    def _query(self) -> Draft202012Validator:
        return _validator(self._written("query"), self._defs)

    @cached_property
    def _request(self) -> Draft202012Validator | None:
        request = self._written("request")
        return None if request is None else _validator(request, self._defs)

    @cached_property
    def _response(self) -> Draft202012Validator:
        return _validator(self._written("response"), self._defs)

    @cached_property
    def _reading(self) -> Draft202012Validator:
        return _validator(self._written("reading"), self._reading_defs)

    def _fast_valid(self, part: str, value: Any) -> bool:
        """True if the generated check accepts `value` as `part`: it is valid. False says
        only that jsonschema must look (it never accepts what jsonschema rejects)."""
        checks = importlib.import_module(f"{__package__}.checks.{checks_module(self.source, part)}")
        return bool(checks.is_valid(f"{self.method} {self.path} {part}", value))

    def __repr__(self) -> str:
        return f"<Endpoint {self.method} {self.path}>"

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self._pattern.fullmatch(path) is not None

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.path.split("/") if part and not part.startswith("{"))

    def request_problems(self, query: Mapping[str, str], body: Any) -> list[Problem]:
        """What is wrong with a request's query parameters and body (empty when it conforms)."""
        given = {k: v for k, v in query.items() if v.strip() not in ABSENT_QUERY_VALUES}
        if self._fast_valid("query", given) and self._body_fits(body):
            return []
        problems = _problems(self._query, given, "query")
        if self._request is None:
            if body is not NO_BODY:
                problems.append(Problem("body", "this request takes no body"))
        elif body is NO_BODY:
            problems.append(Problem("body", "a JSON body is required"))
        else:
            problems.extend(_problems(self._request, body, "body"))
        return problems[:_MAX_PROBLEMS]

    def _body_fits(self, body: Any) -> bool:
        if self._written("request") is None:
            return body is NO_BODY
        return body is not NO_BODY and self._fast_valid("request", body)

    def response_problems(self, status: int, body: Any) -> list[Problem]:
        """What is wrong with a success answer, read strictly (the emulator's own check)."""
        if status != self.success_status:
            expected = f"{self.success_status}"
            return [Problem("status", f"is {status}; the contract says {expected}")]
        if self._fast_valid("response", body):
            return []
        return _problems(self._response, body, "response")[:_MAX_PROBLEMS]

    def reading_problems(self, body: Any) -> list[Problem]:
        """What makes a success answer unreadable, read tolerantly (the client's check)."""
        if self._fast_valid("reading", body):
            return []
        return _problems(self._reading, body, "response")[:_MAX_PROBLEMS]


_NO_QUERY: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


PARTS = ("query", "request", "response", "reading")
"""The schemas of an endpoint (`Endpoint.schema`)."""


def checks_module(source: str, part: str) -> str:
    """The generated module (in `checks`) that checks `part` for the endpoints of contract
    file `source`: the reading checks, which the client uses, apart from the others, which
    the emulator uses, so that each imports (and compiles) only its own; a module is
    imported when first needed."""
    return f"{source}_reading" if part == "reading" else source


def _validator(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # here: only a wrong message needs it

    return Draft202012Validator({**inline_refs(schema, defs), "$defs": dict(defs)})


_DEFS = "#/$defs/"


def inline_refs(schema: Any, defs: Mapping[str, Any], trail: tuple[str, ...] = ()) -> Any:
    """`schema` with each ``{"$ref": "#/$defs/NAME"}`` replaced by the definition itself.

    The same checks and the same errors, at a fraction of the cost: jsonschema resolves a
    ``$ref`` on every use (the emulator checks every request), a copied definition never. A
    definition that refers back to itself keeps its ``$ref`` there (resolved from ``$defs``),
    as does a ``$ref`` beside any keyword other than an ``x-`` annotation (draft 2020-12
    applies both the reference and its siblings, so the two stay together).
    """
    if isinstance(schema, list):
        return [inline_refs(item, defs, trail) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    name = ref[len(_DEFS) :] if isinstance(ref, str) and ref.startswith(_DEFS) else None
    annotations_only = all(key == "$ref" or key.startswith("x-") for key in schema)
    if name is not None and name in defs and name not in trail and annotations_only:
        return inline_refs(defs[name], defs, (*trail, name))
    return {key: inline_refs(value, defs, trail) for key, value in schema.items()}


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts if p)
    return re.compile(regex)


def _problems(validator: Draft202012Validator, value: Any, root: str) -> list[Problem]:
    errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(error, root) for error in errors]


def _describe(error: ValidationError, root: str) -> Problem:
    """A short sentence fragment for one schema violation, naming the field."""
    where = root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
    if error.validator == "required":
        missing = _quoted_name(error.message)
        return Problem(f"{where}.{missing}" if missing else where, "is required")
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        noun = "query parameter" if where == "query" else "field"
        return Problem(where, f"unknown {noun}{'s' if len(extra) > 1 else ''} {', '.join(extra)}")
    if error.validator == "type":
        expected = error.validator_value
        shown = " or ".join(expected) if isinstance(expected, list) else expected
        actual = _json_type(error.instance)
        return Problem(where, f"must be {_article(shown)} {shown}, not {actual}")
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        choices = ", ".join(json.dumps(v) for v in allowed)
        return Problem(where, f"is {json.dumps(error.instance)[:60]}; expected one of {choices}")
    if error.validator in ("anyOf", "oneOf"):
        return Problem(where, f"matches none of the allowed forms ({_reasons(error, where)})")
    return Problem(where, error.message[:200])


def _reasons(error: ValidationError, where: str) -> str:
    """Why each alternative failed, its fields named from `where` (the failing value)."""
    reasons = [str(_describe(sub, where)) for sub in error.context or ()]
    return "; ".join(dict.fromkeys(reasons)) or "no form fits"


def _quoted_name(message: str) -> str:
    match = re.match(r"'([^']+)' is a required property", message)
    return match.group(1) if match else ""


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
    return type(value).__name__


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def reading_form(schema: Any) -> Any:
    """The tolerant twin of a response schema, the way a robust reader reads an answer.

    Unknown fields are allowed, an optional field may be null, and a property's ``x-also``
    alternative is accepted beside its main form. Required fields and types stay as they are:
    a missing ``id`` or a list where an object belongs is still a problem.
    """
    if isinstance(schema, list):
        return [reading_form(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: reading_form(value) for key, value in schema.items() if key != "x-also"}
    if result.get("additionalProperties") is False:
        result.pop("additionalProperties")
    if isinstance(result.get("properties"), dict):
        required = set(schema.get("required", ()))
        result["properties"] = {
            name: prop if name in required else {"anyOf": [prop, {"type": "null"}]}
            for name, prop in result["properties"].items()
        }
    if "x-also" in schema:
        result = {"anyOf": [result, reading_form(schema["x-also"])]}
    return result


# -- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    endpoints: tuple[Endpoint, ...]

    def find(self, method: str, path: str) -> Endpoint | None:
        """The endpoint a concrete request path belongs to (literal segments win over params)."""
        for endpoint in self.endpoints:
            if endpoint.matches(method.upper(), path):
                return endpoint
        return None

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints)


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    folder = resources.files(__package__)
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if item.name.endswith(".json"):
            yield item.name, json.loads(item.read_text(encoding="utf-8"))


@cache
def load() -> Contract:
    """The whole contract, every file merged (loaded once per process)."""
    defs: dict[str, Any] = {}
    entries: list[tuple[dict[str, Any], str]] = []
    for name, document in _documents():
        for def_name, schema in document.get("$defs", {}).items():
            if def_name in defs:
                raise ValueError(f"contract: $defs name {def_name!r} defined twice ({name})")
            defs[def_name] = schema
        source = name.removesuffix(".json")
        entries.extend((entry, source) for entry in document.get("endpoints", ()))
    reading_defs = {name: reading_form(schema) for name, schema in defs.items()}
    endpoints = [Endpoint(entry, defs, reading_defs, source) for entry, source in entries]
    endpoints.sort(key=lambda e: -e.literal_segments)
    return Contract(tuple(endpoints))
