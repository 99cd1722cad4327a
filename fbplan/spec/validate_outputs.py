"""The rules of the `outputs` section that a schema cannot say.

Each value has exactly one source; the addresses and repos it names are declared; a secret
needs a secret sink (secrets in outputs come from the sink, never from memory); no value
comes from `${env:}` or `${file:}` (an output is not a back door for a secret into a
non-secret target). Output names are unique ignoring case (environment variables are, on
some systems); a target lists declared outputs, each once; no secret goes to a target that
cannot keep one (`github_output`); no two file targets, and no file target and the secret
sink, share a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fbplan.errors import SpecProblem
from fbplan.kinds import KINDS
from fbplan.model import WORKSPACE_ADDRESS

if TYPE_CHECKING:
    from fbplan.spec.loader import PathKey
    from fbplan.spec.validate import _Context

#: Every source an output may name; `secret` is the only sensitive one.
SOURCES = ("key_id", "secret", "id", "bridge_endpoint", "ai_base_url", "model", "value")
KEY_SOURCES = ("key_id", "secret")
REPO_SOURCES = ("bridge_endpoint", "ai_base_url")  # need `repo`; `model` may have one
#: Targets that cannot keep a secret, and why.
NO_SECRETS = {
    "github_output": (
        "step outputs are stored with the workflow run and GitHub drops job outputs that "
        "hold masked values; send secrets to a github_env, dotenv, json or "
        "aws_secretsmanager target"
    )
}
_TARGET_FIELDS = {
    "dotenv": {"type", "path", "values"},
    "json": {"type", "path", "values"},
    "github_env": {"type", "values"},
    "github_output": {"type", "values"},
    "aws_secretsmanager": {"type", "name", "region", "values"},
}


def declared_addresses(spec: dict[str, Any]) -> list[str]:
    """The address of every resource the spec declares."""
    return [WORKSPACE_ADDRESS] + [
        address for kind in KINDS if not kind.root for address in kind.declared_addresses(spec)
    ]


def declared_keys(spec: dict[str, Any]) -> list[str]:
    """The address of every repo key (storage and AI) the spec declares."""
    return [
        address
        for kind in KINDS
        if kind.issues_credentials
        for address in kind.declared_addresses(spec)
    ]


def output_rules(spec: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    outputs = _mapping(spec.get("outputs"))
    values = _mapping(outputs.get("values"))
    for name, body in values.items():
        if isinstance(body, dict):
            yield from _value_rules(spec, ("outputs", "values", name), body, ctx)
    yield from _name_rules(values, ctx)
    secret = {name for name, body in values.items() if isinstance(body, dict) and "secret" in body}
    paths: dict[str, str] = {}
    for name, target in _mapping(outputs.get("targets")).items():
        if isinstance(target, dict):
            path = ("outputs", "targets", name)
            yield from _target_rules(spec, path, target, values, secret, paths, ctx)


def _value_rules(
    spec: dict[str, Any], path: PathKey, body: dict[str, Any], ctx: _Context
) -> Iterator[SpecProblem]:
    from fbplan.spec.validate import _reference

    sources = [s for s in SOURCES if s in body]
    if len(sources) != 1:
        said = "none" if not sources else ", ".join(sources)
        yield ctx.problem(path, f"needs exactly one source of {', '.join(SOURCES)} (has {said})")
    for field in body:
        if (*path, field) in ctx.tainted:
            yield ctx.problem(
                (*path, field),
                "outputs take literals and ${var:NAME} only, never ${env:} or ${file:}: "
                "a secret read that way would reach targets that show it",
            )
    source = sources[0] if len(sources) == 1 else None
    if source in KEY_SOURCES:
        keys = declared_keys(spec)
        yield from _reference(ctx, (*path, source), body[source], keys, "repo key address")
    if source == "secret" and not _mapping(_mapping(spec.get("secrets")).get("sink")):
        yield ctx.problem(
            (*path, source),
            "a secret in outputs is read from the secret sink, and the spec configures no "
            "secrets.sink",
        )
    if source == "id":
        yield from _reference(ctx, (*path, "id"), body["id"], declared_addresses(spec), "address")
    if "repo" in body:
        repos = _mapping(spec.get("repos"))
        yield from _reference(ctx, (*path, "repo"), body["repo"], repos, "repo")
        if source not in (*REPO_SOURCES, "model"):
            yield ctx.problem((*path, "repo"), f"does not apply to {source}", at_key=True)
    elif source in REPO_SOURCES:
        yield ctx.problem((*path, "repo"), f"required with {source}: the repo it is for")


def _name_rules(values: dict[str, Any], ctx: _Context) -> Iterator[SpecProblem]:
    """`FB_KEY_ID` and `fb_key_id` are one variable where names ignore case."""
    first: dict[str, str] = {}
    for name in values:
        folded = str(name).upper()
        if folded in first:
            yield ctx.problem(
                ("outputs", "values", name),
                f"duplicate name: {first[folded]} is the same environment variable where "
                "names ignore case; rename one of them",
                at_key=True,
            )
        first.setdefault(folded, str(name))


def _target_rules(
    spec: dict[str, Any],
    path: PathKey,
    target: dict[str, Any],
    values: dict[str, Any],
    secret: set[str],
    paths: dict[str, str],
    ctx: _Context,
) -> Iterator[SpecProblem]:
    from fbplan.spec.validate import _reference

    kind = target.get("type")
    allowed = _TARGET_FIELDS.get(kind) if isinstance(kind, str) else None
    for field in target:
        if allowed is not None and field not in allowed and field in ("path", "name", "region"):
            yield ctx.problem((*path, field), f"does not apply to a {kind} target", at_key=True)
    chosen = target.get("values") if isinstance(target.get("values"), list) else None
    seen: dict[str, int] = {}
    for index, name in enumerate(chosen or []):
        yield from _reference(ctx, (*path, "values", index), name, values, "output")
        if isinstance(name, str) and name in seen:
            yield ctx.problem(
                (*path, "values", index), f"duplicate name: already listed at values[{seen[name]}]"
            )
        seen.setdefault(str(name), index)
    if isinstance(kind, str) and kind in NO_SECRETS:
        yield from _secrets_sent(path, kind, chosen, list(values), secret, ctx)
    yield from _shared_file(spec, path, target, paths, ctx)


def _secrets_sent(
    path: PathKey,
    kind: str,
    chosen: list[Any] | None,
    declared: list[str],
    secret: set[str],
    ctx: _Context,
) -> Iterator[SpecProblem]:
    """A secret sent to a target that cannot keep one: at its place in the target's
    `values`, or at the target's `type` when it takes every output."""
    if chosen is not None:
        sent = [((*path, "values", i), str(n)) for i, n in enumerate(chosen) if n in secret]
    else:
        sent = [((*path, "type"), ", ".join(n for n in declared if n in secret))]
    for where, names in sent:
        if names:
            yield ctx.problem(
                where,
                f"{names} {'are secrets' if ', ' in names else 'is a secret'}, and a {kind} "
                f"target cannot keep one: {NO_SECRETS[kind]}",
            )


def _shared_file(
    spec: dict[str, Any],
    path: PathKey,
    target: dict[str, Any],
    paths: dict[str, str],
    ctx: _Context,
) -> Iterator[SpecProblem]:
    file = target.get("path")
    if target.get("type") not in ("dotenv", "json") or not isinstance(file, str) or not file:
        return
    where = os.path.normpath(file)
    sink = _mapping(_mapping(spec.get("secrets")).get("sink"))
    if isinstance(sink.get("path"), str) and os.path.normpath(sink["path"]) == where:
        yield ctx.problem(
            (*path, "path"),
            "this is the secret sink's file; an application's outputs need a file of their own",
        )
    elif where in paths:
        yield ctx.problem((*path, "path"), f"duplicate file: target {paths[where]} writes it too")
    paths.setdefault(where, str(path[-1]))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _get(body: Any, field: str) -> Any:
    return body.get(field) if isinstance(body, dict) else None
