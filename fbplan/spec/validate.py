"""Validate a spec's data: the JSON Schema first, then the rules a schema cannot say.

Schema errors become one-line problems at the user's text (an unknown field points at
its key and suggests the closest valid one); then the cross-references (buckets,
AI LLMs, provider keys, repos and their keys), credential combinations, provider buckets
declared twice, repo attachment rules, the access of storage smoke keys, and the names a
dotenv secret sink would give the keys are checked, and the `outputs` section
(`validate_outputs`).
Every problem is collected. Messages never show a value
that came from the environment or a file, nor any value of a secret field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fbplan.errors import SpecProblem
from fbplan.kinds import KINDS, REGISTRY
from fbplan.kinds.base import backend_name
from fbplan.secrets.envnames import env_prefix
from fbplan.spec import schema_check
from fbplan.spec.validate_outputs import output_rules

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

    from fbplan.spec.loader import Marks, PathKey


def schema_resource() -> Traversable:
    """The packaged JSON Schema of the spec format."""
    from importlib.resources import files  # here: most runs never read the schema file

    return files("fbplan").joinpath("schemas", "fbplan.schema.json")


@functools.cache
def load_schema() -> dict[str, Any]:
    """The spec format's JSON Schema, parsed (cached)."""
    return json.loads(schema_resource().read_text(encoding="utf-8"))


@functools.cache
def checked_schema() -> dict[str, Any]:
    """The schema as jsonschema checks it (references inlined), which
    fbplan/spec/schema_check.py is generated from (scripts/gen_schema_check.py)."""
    schema: dict[str, Any] = _inline_refs(load_schema())
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    # Imported here: a valid spec never needs jsonschema (`schema_check` says it is valid),
    # and importing it costs more than validating a small spec.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(checked_schema())


def _inline_refs(
    node: Any, defs: Mapping[str, Any] | None = None, within: tuple[str, ...] = ()
) -> Any:
    """The schema with each `#/$defs/` reference replaced by its definition (a recursive one
    stays a reference): the same rules, checked in half the time, as jsonschema resolves a
    `$ref` anew at every node of a large spec. The siblings of a `$ref` are annotations."""
    defs = node.get("$defs", {}) if defs is None and isinstance(node, Mapping) else defs or {}
    if isinstance(node, list):
        return [_inline_refs(item, defs, within) for item in node]
    if not isinstance(node, Mapping):
        return node
    ref = node.get("$ref")
    name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
    if name is not None and name in defs and name not in within:
        target = _inline_refs(defs[name], defs, (*within, name))
        return {**{k: v for k, v in node.items() if k != "$ref"}, **target}
    return {key: _inline_refs(value, defs, within) for key, value in node.items()}


@dataclass(frozen=True)
class _Context:
    marks: Marks
    tainted: frozenset[PathKey]
    skip: frozenset[PathKey]

    def problem(self, path: PathKey, message: str, *, at_key: bool = False) -> SpecProblem:
        return self.marks.problem(path, message, at_key=at_key)

    def show(self, path: PathKey, value: str) -> str:
        """`value` quoted for a message, unless it came from the environment or a file."""
        return "(a value from the environment or a file)" if path in self.tainted else repr(value)


def validate(
    view: dict[str, Any],
    marks: Marks,
    *,
    tainted: Iterable[PathKey] = (),
    skip: Iterable[PathKey] = (),
) -> list[SpecProblem]:
    """Every problem in `view` (plain data, secret fields as written).

    Paths in `skip` already have a problem or an unknown value: nothing more is said there.
    """
    ctx = _Context(marks, frozenset(tainted), frozenset(skip))
    problems = list(_schema_problems(view, ctx)) + list(_rule_problems(view, ctx))
    return list(dict.fromkeys(problems))


# --- JSON Schema errors as problems ---------------------------------------------------

_TYPE_NAMES = {
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}


def _schema_problems(view: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    """jsonschema's errors, explained; none without asking it if the generated check
    accepts the spec (over ten times as fast; it never accepts what jsonschema rejects)."""
    if schema_check.is_valid(view):
        return
    errors = [e for e in _validator().iter_errors(view) if tuple(e.absolute_path) not in ctx.skip]
    typed = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    for error in errors:
        if error.validator != "type" and tuple(error.absolute_path) in typed:
            continue  # one clear "expected X, got Y" is enough
        yield from _explain(error, ctx)


def _explain(error: ValidationError, ctx: _Context) -> Iterator[SpecProblem]:
    path = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        yield _bad_key(error, path, ctx)
        return
    match error.validator:
        case "additionalProperties":
            yield from _unknown_fields(error, path, ctx)
        case "required":
            yield from _missing_fields(error, path, ctx)
        case "anyOf" | "oneOf":
            yield from _alternatives(error, path, ctx)
        case _:
            yield ctx.problem(path, _message(error, path, ctx))


def _message(error: ValidationError, path: PathKey, ctx: _Context) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    match error.validator:
        case "type":
            return _type_message(error.validator_value, error.instance)
        case "enum":
            return _enum_message(error.validator_value, error.instance, path, ctx)
        case "pattern":
            return schema.get("patternErrorMessage", "has an invalid format")
        case "const":
            return schema.get("errorMessage", f"must be {json.dumps(error.validator_value)}")
        case "minLength" | "minItems" | "minProperties":
            return "must not be empty"
        case _:
            return schema.get("errorMessage", f"is not valid here ({error.validator})")


def _type_message(expected: str | list[str], instance: Any) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
    message = f"expected {wanted}, got {_kind_of(instance)}"
    if "string" in names and isinstance(instance, int | float | bool):
        message += " (quote the value to make it a string)"
    return message


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    kinds = [
        (bool, "true/false"),
        (int | float, "a number"),
        (str, "a string"),
        (dict, "a mapping"),
        (list, "a list"),
    ]
    for kind, name in kinds:
        if isinstance(value, kind):
            return name
    return f"a YAML {type(value).__name__} value"


def _enum_message(choices: list[Any], instance: Any, path: PathKey, ctx: _Context) -> str:
    message = "must be one of " + ", ".join(str(choice) for choice in choices)
    if isinstance(instance, str) and path not in ctx.tainted:
        close = _closest(instance, [str(choice) for choice in choices])
        if close:
            message += f"; did you mean '{close}'?"
    return message


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word` (case-insensitively), if any is close enough."""
    import difflib  # here: only a problem needs a suggestion

    by_fold = {candidate.casefold(): candidate for candidate in candidates}
    found = difflib.get_close_matches(word.casefold(), list(by_fold), n=1, cutoff=0.6)
    return by_fold[found[0]] if found else None


def _unknown_fields(error: ValidationError, path: PathKey, ctx: _Context) -> Iterator[SpecProblem]:
    known = list(error.schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    for name in instance:
        if name in known:
            continue
        close = _closest(str(name), known)
        hint = f"did you mean '{close}'?" if close else "valid fields are " + ", ".join(known)
        yield ctx.problem((*path, name), f"unknown field; {hint}", at_key=True)


def _missing_fields(error: ValidationError, path: PathKey, ctx: _Context) -> Iterator[SpecProblem]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    known = list((error.schema.get("properties") or {}) if isinstance(error.schema, dict) else {})
    # A misspelt field is reported once, as unknown with its "did you mean": the required
    # field it was meant to be is not reported missing on top of it.
    meant = {_closest(str(name), known) for name in instance if name not in known}
    for name in error.validator_value:
        if name not in instance and name not in meant:
            yield ctx.problem((*path, name), "required field is missing")


def _bad_key(error: ValidationError, path: PathKey, ctx: _Context) -> SpecProblem:
    key = (*path, str(error.instance))
    schema = error.schema if isinstance(error.schema, dict) else {}
    message = schema.get("patternErrorMessage", "invalid name")
    return ctx.problem(key, message, at_key=True)


def _alternatives(error: ValidationError, path: PathKey, ctx: _Context) -> Iterator[SpecProblem]:
    """For "a string or a mapping" fields: explain the branch whose type matches."""
    branches: list[dict[str, Any]] = error.validator_value
    for index, branch in enumerate(branches):
        if _type_matches(branch.get("type"), error.instance):
            inner = [e for e in error.context or [] if e.relative_schema_path[0] == index]
            for sub in inner:
                yield from _explain(sub, ctx)
            if inner:
                return
    types = [b["type"] for b in branches if isinstance(b.get("type"), str)]
    yield ctx.problem(path, _type_message(types, error.instance))


def _type_matches(kind: Any, value: Any) -> bool:
    match kind:
        case "object":
            return isinstance(value, dict)
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "array":
            return isinstance(value, list)
        case _:
            return False


# --- rules beyond the schema ------------------------------------------------------------


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _entries(spec: dict[str, Any], section: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, item in _mapping(spec.get(section)).items():
        if isinstance(item, dict):
            yield name, item


def _rule_problems(view: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    spec = _mapping(view)
    yield from _reference_rules(spec, ctx)
    yield from _credential_rules(spec, ctx)
    yield from _provider_bucket_rules(spec, ctx)
    yield from _repo_rules(spec, ctx)
    yield from _mirror_exclusivity(spec, ctx)
    yield from _smoke_rules(spec, ctx)
    yield from _sink_rules(spec, ctx)
    yield from _dotenv_name_rules(spec, ctx)
    yield from _backend_name_rules(spec, ctx)
    yield from output_rules(spec, ctx)


def _reference(
    ctx: _Context,
    path: PathKey,
    value: Any,
    known: Iterable[str],
    what: str,
    within: str = "",
) -> Iterator[SpecProblem]:
    """A problem if `value` (a name) is not one of `known`; `within` says where they live."""
    if not isinstance(value, str) or path in ctx.skip:
        return
    if isinstance(known, Mapping | set | frozenset) and value in known:
        return  # a look-up, not a scan: a spec makes one reference per attachment
    names = list(known)
    if value in names:
        return
    message = f"unknown {what} {ctx.show(path, value)}{within}"
    close = None if path in ctx.tainted else _closest(value, names)
    if close:
        message += f"; did you mean '{close}'?"
    elif not names:
        message += f"; no {what} is declared{within}"
    yield ctx.problem(path, message)


def _reference_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    """Every name a spec entry gives in a reference field (`Kind.references`) is declared."""
    for kind in KINDS:
        for reference in kind.references:
            target = REGISTRY[reference.kind]
            known = {name for _, name, _ in target.spec_entries(spec)}
            for base, name, body in kind.spec_entries(spec):
                for below, value in reference.names(name, body):
                    yield from _reference(ctx, (*base, *below), value, known, target.name)


def _credential_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    for section in _INLINE_CREDENTIALS:
        for name, item in _entries(spec, section):
            base = (section, name)
            if "provider_key" in item:
                path = (*base, "provider_key")
                if "key" in item or "secret" in item:
                    yield ctx.problem(
                        path,
                        "provider_key cannot be combined with key or secret; use one or the other",
                    )
            else:
                yield from _inline_credentials(base, item, _INLINE_CREDENTIALS[section], ctx)


# What the API reference requires of a bucket or AI LLM that names no provider key (the
# official client's `apiKeyUuid` is the only alternative it knows): field -> what it is.
_INLINE_CREDENTIALS = {
    "buckets": {"key": "the access key id", "secret": "the secret key"},
    "ai_llms": {"endpoint": "the provider's base URL", "secret": "the provider's API token"},
}


def _inline_credentials(
    base: PathKey, item: dict[str, Any], fields: dict[str, str], ctx: _Context
) -> Iterator[SpecProblem]:
    for field, what in fields.items():
        if field not in item:
            yield ctx.problem(
                (*base, field), f"required ({what}) unless provider_key names a provider key"
            )


def _provider_bucket_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    """A provider bucket is registered once in Flashback: a second entry naming it would
    fail half-way through an apply."""
    first: dict[str, str] = {}
    for name, item in _entries(spec, "buckets"):
        path = ("buckets", name, "bucket")
        bucket = item.get("bucket")
        if not isinstance(bucket, str) or not bucket or path in ctx.skip:
            continue
        if bucket in first:
            other = ("buckets", first[bucket], "bucket")
            yield ctx.problem(
                path,
                f"the provider bucket {ctx.show(path, bucket)} is already declared by "
                f"buckets.{first[bucket]} at {ctx.marks.locate(other)}",
            )
        first.setdefault(bucket, name)


def _repo_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    for name, repo in _entries(spec, "repos"):
        base = ("repos", name)
        attachments = _list(repo.get("buckets"))
        yield from _attachment_rules(base, attachments, repo.get("mode"), ctx)
        llms = _list(repo.get("ai_llms"))
        yield from _llm_rules(base, llms, ctx)


def _attachment_rules(
    base: PathKey, attachments: list[Any], mode: Any, ctx: _Context
) -> Iterator[SpecProblem]:
    seen: dict[str, int] = {}
    folders: dict[str, int] = {}
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            continue
        path = (*base, "buckets", index)
        bucket, folder = attachment.get("bucket"), attachment.get("folder")
        if isinstance(bucket, str):
            if bucket in seen:
                yield ctx.problem(
                    (*path, "bucket"),
                    f"this bucket is already attached to the repo at buckets[{seen[bucket]}]",
                )
            seen.setdefault(bucket, index)
        if mode == "NORMAL" and isinstance(folder, str):
            if folder in folders:
                yield ctx.problem(
                    (*path, "folder"),
                    f"folder already used by buckets[{folders[folder]}]; "
                    "each bucket of a NORMAL repo needs its own folder",
                )
            folders.setdefault(folder, index)
    if mode == "MIRROR":
        masters = sum(1 for a in attachments if isinstance(a, dict) and a.get("master") is True)
        if masters != 1:
            yield ctx.problem(
                (*base, "buckets"),
                f"a MIRROR repo needs exactly one bucket with master: true (found {masters})",
            )


def _llm_rules(base: PathKey, llms: list[Any], ctx: _Context) -> Iterator[SpecProblem]:
    seen: dict[str, int] = {}
    for index, llm in enumerate(llms):
        path = (*base, "ai_llms", index)
        if isinstance(llm, str):
            if llm in seen:
                yield ctx.problem(path, f"this ai_llm is already attached at ai_llms[{seen[llm]}]")
            seen.setdefault(llm, index)


def _mirror_exclusivity(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    """A bucket of a MIRROR repo cannot be attached to any other repo."""
    users: dict[str, list[tuple[str, PathKey]]] = {}
    mirrors: dict[str, str] = {}
    for name, repo in _entries(spec, "repos"):
        attachments = _list(repo.get("buckets"))
        for index, attachment in enumerate(attachments):
            bucket = attachment.get("bucket") if isinstance(attachment, dict) else None
            if not isinstance(bucket, str):
                continue
            users.setdefault(bucket, []).append((name, ("repos", name, "buckets", index, "bucket")))
            if repo.get("mode") == "MIRROR":
                mirrors.setdefault(bucket, name)
    for bucket, owner in mirrors.items():
        for repo_name, path in users[bucket]:
            if repo_name != owner:
                yield ctx.problem(
                    path,
                    f"bucket {ctx.show(path, bucket)} belongs to MIRROR repo '{owner}' "
                    "and cannot be attached to another repo",
                )


def _smoke_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    repos = _mapping(spec.get("repos"))
    smoke = _mapping(spec.get("smoke"))
    for section, key_field in (("storage", "api_key"), ("ai", "ai_api_key")):
        checks = _list(smoke.get(section))
        for index, check in enumerate(checks):
            if isinstance(check, dict):
                yield from _smoke_check(("smoke", section, index), check, key_field, repos, ctx)


def _smoke_check(
    path: PathKey, check: dict[str, Any], key_field: str, repos: dict[str, Any], ctx: _Context
) -> Iterator[SpecProblem]:
    repo_name = check.get("repo")
    yield from _reference(ctx, (*path, "repo"), repo_name, repos, "repo")
    repo = repos.get(repo_name) if isinstance(repo_name, str) else None
    if isinstance(repo, dict) and (*path, "repo") not in ctx.skip:
        keys = _mapping(repo.get(f"{key_field}s"))
        key_path, within = (*path, key_field), f" in repo '{repo_name}'"
        yield from _reference(ctx, key_path, check.get(key_field), keys, key_field, within)
        key_name = check.get(key_field)
        key = keys.get(key_name) if isinstance(key_name, str) else None
        if key_field == "api_key" and isinstance(key, dict) and key.get("access") == "READ":
            yield ctx.problem(
                key_path,
                f"the key '{check[key_field]}' has READ access, but smoke writes an object; "
                "the key needs WRITE or ADMIN access",
            )


_SINK_FIELDS = {
    "dotenv": {"type", "path"},
    "json": {"type", "path"},
    "aws_secretsmanager": {"type", "prefix", "region"},
}


def _sink_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    sink = _mapping(_mapping(spec.get("secrets")).get("sink"))
    kind = sink.get("type")
    allowed = _SINK_FIELDS.get(kind) if isinstance(kind, str) else None
    if allowed is None:
        return
    for name in sink:
        if name not in allowed and name in ("path", "prefix", "region"):
            path = ("secrets", "sink", name)
            yield ctx.problem(path, f"does not apply to a {kind} sink", at_key=True)


def _dotenv_name_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    """Two repo keys whose dotenv variables would have the same name: the second written
    would overwrite the first one's secret in the sink."""
    sink = _mapping(_mapping(spec.get("secrets")).get("sink"))
    if sink.get("type") != "dotenv":
        return
    keys: list[tuple[tuple[str, int, int], int, PathKey, str]] = []  # where, order, path, address
    for kind in KINDS:
        if not kind.issues_credentials:
            continue
        entries = [path for path, _, _ in kind.spec_entries(spec)]
        for path, address in zip(entries, kind.declared_addresses(spec), strict=True):
            where = ctx.marks.locate(path, at_key=True)
            place = (where.file, where.line, where.column)
            keys.append((place, len(keys), path, address))
    first: dict[str, str] = {}
    for _, _, key_path, address in sorted(keys):
        prefix = env_prefix(address)
        if prefix not in first:
            first[prefix] = address
            continue
        yield ctx.problem(
            key_path,
            f"{address} and {first[prefix]} would both be kept in the dotenv variables "
            f"{prefix}_KEY_ID and {prefix}_SECRET of the secret sink; rename one of them",
            at_key=True,
        )


def _backend_name_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    """Two entries of a kind that give one backend name (a `name:` equal to another
    entry's `name:` or key) or `match:` one id: both would be matched to one live object."""
    for kind in KINDS:
        if not kind.named_section:
            continue
        first: dict[str, str] = {}
        for path, key, body in kind.spec_entries(spec):
            for where, what, value in _identities(path, key, _mapping(body)):
                if value not in first:
                    first[value] = key
                    continue
                yield ctx.problem(
                    where,
                    f"{kind.section}.{key} and {kind.section}.{first[value]} both name the "
                    f"{kind.label} {what} {ctx.show(where, value.removeprefix('id:'))} in the "
                    "backend; give each its own",
                    at_key=where == path,
                )


def _identities(
    path: PathKey, key: str, body: dict[str, Any]
) -> Iterator[tuple[PathKey, str, str]]:
    """(where, what, value) of each way an entry names its live object: its backend name,
    and the id of its `match:` if any (as `id:<id>`, apart from names)."""
    yield ((*path, "name") if body.get("name") else path), "named", backend_name(key, body)
    match_id = _mapping(body.get("match")).get("id")
    if isinstance(match_id, str):
        yield (*path, "match", "id"), "with id", f"id:{match_id}"
