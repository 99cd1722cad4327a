"""Load a checks file: YAML, validated with `schemas/checks.schema.json`, every rule's CEL
expression compiled, before any request is sent.

Every problem is collected and reported at file:line:column with the field (e.g.
`rules[2].deny`) and the rule's name; nothing is evaluated from a file with a problem.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fbplan import extras
from fbplan.checks.results import CheckResults, Outcome
from fbplan.errors import ConfigError, SafetyError, SpecProblem
from fbplan.kinds import REGISTRY
from fbplan.plan.model import Action
from fbplan.spec.loader import Marks, PathKey, read_yaml_file

if TYPE_CHECKING:  # jsonschema is imported when a checks file is read, not by every plan
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

#: The longest CEL expression a rule may have (also in the schema).
MAX_EXPRESSION_CHARS = 2000
_MAX_SHOWN_PROBLEMS = 20


class ChecksError(ConfigError):
    """A checks file has problems: each at file:line:column, naming the field and rule."""

    def __init__(self, path: Path, problems: list[SpecProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.field, p.message))
        if len(self.problems) == 1:
            super().__init__(str(self.problems[0]))
            return
        shown = "\n".join(f"  {p}" for p in self.problems[:_MAX_SHOWN_PROBLEMS])
        more = len(self.problems) - _MAX_SHOWN_PROBLEMS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"the checks file {path} has {len(self.problems)} problems:\n{shown}{tail}"
        )


@dataclass(frozen=True)
class Rule:
    """One compiled rule. An empty scope tuple matches every change."""

    name: str
    outcome: Outcome
    expression: str
    message: str
    program: Any = field(repr=False, compare=False)
    kinds: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    def in_scope(self, change: Mapping[str, Any]) -> bool:
        return (
            (not self.kinds or change.get("kind") in self.kinds)
            and (not self.actions or change.get("action") in self.actions)
            and (
                not self.addresses
                or any(fnmatch.fnmatchcase(str(change.get("address")), p) for p in self.addresses)
            )
        )


@dataclass(frozen=True)
class Checks:
    """A loaded checks file: where it is, the digest of its bytes and its rules."""

    file: str
    digest: str
    rules: tuple[Rule, ...]
    variables: Mapping[str, Any] = field(default_factory=dict)


def load_checks(path: str | Path, given_as: str = "--checks") -> Checks:
    """Read, validate and compile the checks file at `path`; raise ChecksError if any
    problem is found (a missing or unreadable file too), and ConfigError naming `given_as`
    and the path if cel-python (the `checks` extra) is not installed."""
    path = Path(path)
    data, marks, problems, raw = read_yaml_file(path)
    if problems:
        raise ChecksError(path, problems)
    problems = [*_schema_problems(data, marks), *_name_problems(data, marks)]
    if problems:
        raise ChecksError(path, problems)
    extras.require(extras.CHECKS, f"{given_as} {path}")
    rules = []
    for index, item in enumerate(data["rules"]):
        rule = _compile(item, index, marks, problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise ChecksError(path, problems)
    digest = hashlib.sha256(raw).hexdigest()
    return Checks(str(path), digest, tuple(rules), dict(data.get("variables") or {}))


def checks_for_apply(path: str | Path | None, recorded: CheckResults | None) -> Checks | None:
    """The checks `apply` evaluates: those of `--checks`, else the file a saved plan was
    checked with. The rules a saved plan was reviewed with are the ones enforced: if that
    file changed since (its digest differs), apply is refused (exit 3)."""
    given_as = "--checks"
    if path is None:
        if recorded is None:
            return None
        path, given_as = recorded.file, "the plan's checks file"
    checks = load_checks(path, given_as)
    if recorded is not None and checks.digest != recorded.digest:
        raise SafetyError(
            f"the checks file {checks.file} is not the one the plan was checked with "
            f"({recorded.file}, changed since?); make a new plan with these checks"
        )
    return checks


# --- validation ---------------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = files("fbplan").joinpath("schemas", "checks.schema.json")
    return Draft202012Validator(json.loads(schema.read_text(encoding="utf-8")))


def _schema_problems(data: dict[str, Any], marks: Marks) -> Iterator[SpecProblem]:
    for error in _validator().iter_errors(data):
        path = tuple(error.absolute_path)
        yield marks.problem(path, _rule_prefix(data, path) + _message(error), at_key=True)


def _message(error: ValidationError) -> str:
    match error.validator:
        case "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            known = ", ".join(sorted(error.schema.get("properties", {})))
            return f"unknown field {', '.join(unknown)} (known: {known})"
        case "required":
            return error.message.replace("is a required property", "is required")
        case "oneOf" if "deny" in json.dumps(error.schema):
            return "give exactly one of deny or warn"
        case "maxLength":
            return f"longer than {error.validator_value} characters"
    text = error.message
    return text if len(text) <= 160 else text[:157] + "..."


def _rule_prefix(data: dict[str, Any], path: PathKey) -> str:
    """`rule NAME: ` for a path inside a named rule, so a message names the rule."""
    if len(path) < 2 or path[0] != "rules" or not isinstance(path[1], int):
        return ""
    rules = data.get("rules")
    rule = rules[path[1]] if isinstance(rules, list) and path[1] < len(rules) else None
    name = rule.get("name") if isinstance(rule, dict) else None
    return f"rule {name}: " if isinstance(name, str) else ""


def _name_problems(data: dict[str, Any], marks: Marks) -> Iterator[SpecProblem]:
    """Rule names used twice; scope kinds and actions that do not exist."""
    seen: dict[str, int] = {}
    for index, rule in enumerate(data["rules"]):
        name = rule["name"]
        if name in seen:
            message = f"rule {name}: another rule (rules[{seen[name]}]) has this name"
            yield marks.problem(("rules", index, "name"), message)
        seen.setdefault(name, index)
        scope = rule.get("scope") or {}
        for key, known in (("kind", tuple(REGISTRY)), ("action", tuple(a.value for a in Action))):
            for value in _names(scope.get(key)):
                if value not in known:
                    yield marks.problem(
                        ("rules", index, "scope", key),
                        f"rule {name}: unknown {key} {value!r} (one of: {', '.join(known)})",
                    )


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


# --- compiling ----------------------------------------------------------------------------


@cache
def _environment() -> Any:
    """A CEL environment (cel-python's, imported only when checks are used: it takes a
    second to build its parser). Its interpreter, not its transpiler to Python: the
    transpiler (0.5) fails on `has()` and `!`, which rules need. cel-python's own logging is
    silenced, as its error log repeats what the caller reports."""
    import celpy

    logging.getLogger("celpy").setLevel(logging.CRITICAL)
    return celpy.Environment(runner_class=celpy.InterpretedRunner)


def _compile(
    item: dict[str, Any], index: int, marks: Marks, problems: list[SpecProblem]
) -> Rule | None:
    from celpy import CELParseError

    outcome: Outcome = "deny" if "deny" in item else "warn"
    expression = item[outcome]
    env = _environment()
    try:
        program = env.program(env.compile(expression))
    except CELParseError as error:
        where = f"line {error.line}, column {error.column} of the expression"
        message = f"rule {item['name']}: CEL syntax error at {where}"
        problems.append(marks.problem(("rules", index, outcome), message))
        return None
    except Exception as error:  # the transpiler's own refusals (an unknown macro, ...)
        message = f"rule {item['name']}: the expression does not compile ({error})"
        problems.append(marks.problem(("rules", index, outcome), message[:300]))
        return None
    scope = item.get("scope") or {}
    return Rule(
        name=item["name"],
        outcome=outcome,
        expression=expression,
        message=item["message"],
        program=program,
        kinds=_names(scope.get("kind")),
        addresses=_names(scope.get("address")),
        actions=_names(scope.get("action")),
    )
