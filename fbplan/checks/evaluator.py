"""Evaluate a checks file's rules over a plan's JSON document: a pure function.

Every rule is evaluated for every change in its scope (no-op changes included, so that a
rule about what the spec declares holds for all of it; a rule about what the plan does
filters on `change.action`). An expression sees:

- `change`: the change as in the plan document (address, kind, action, fields, reasons,
  new_credentials, protect, before, after, live_id), redacted: no secret reaches a check;
- `resource`: the object the change leaves (`after`), or for a delete the one it removes
  (`before`), so a rule can read a field without testing for null first;
- `plan`: the plan's workspace, spec_path, summary counts, targets, rotate, variables and
  force;
- `vars`: the checks file's `variables`.

A rule fires where its expression is true. An expression that cannot be evaluated for a
change (a missing field, a wrong type, a result that is not true or false) fires as a
deny, whatever the rule's outcome: checks fail closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from fbplan.checks.loader import Checks, Rule
from fbplan.checks.results import CheckResults, Finding
from fbplan.errors import ConfigError
from fbplan.printable import printable

#: At most this many (rule, change) evaluations per plan: rules x changes in their scope.
MAX_EVALUATIONS = 20_000
#: And at most this long for all of them.
DEADLINE_SECONDS = 120.0
#: The plan document's keys an expression sees as `plan`.
PLAN_KEYS = ("workspace", "spec_path", "summary", "targets", "rotate", "variables", "force")
_MAX_ERROR_CHARS = 200


def evaluate(
    checks: Checks,
    document: Mapping[str, Any],
    *,
    deadline_seconds: float = DEADLINE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> CheckResults:
    """The findings of `checks` over the plan `document` (as `render_json` makes it)."""
    from celpy import json_to_cel

    changes = list(document.get("changes", ()))
    pairs = [(r, i) for r in checks.rules for i, c in enumerate(changes) if r.in_scope(c)]
    if len(pairs) > MAX_EVALUATIONS:
        raise ConfigError(
            f"the checks file {checks.file} would be evaluated {len(pairs):,} times over this "
            f"plan (rules x changes in their scope), more than the limit of "
            f"{MAX_EVALUATIONS:,}; narrow the rules' scope"
        )
    shared = {
        "plan": json_to_cel({k: document[k] for k in PLAN_KEYS if k in document}),
        "vars": json_to_cel(dict(checks.variables)),
    }
    activations: dict[int, dict[str, Any]] = {}
    findings = []
    end = clock() + deadline_seconds
    for rule, index in pairs:
        if clock() > end:
            raise ConfigError(
                f"evaluating the checks file {checks.file} took more than {deadline_seconds:g} s "
                f"(at rule {rule.name}); simplify the rules or narrow their scope"
            )
        if index not in activations:
            activations[index] = {**shared, **_change_variables(changes[index], json_to_cel)}
        finding = _evaluate_one(rule, changes[index], activations[index])
        if finding is not None:
            findings.append(finding)
    return CheckResults(checks.file, checks.digest, len(checks.rules), len(pairs), tuple(findings))


def _change_variables(change: Mapping[str, Any], to_cel: Callable[[Any], Any]) -> dict[str, Any]:
    after, before = change.get("after"), change.get("before")
    resource = after if after is not None else before
    return {"change": to_cel(dict(change)), "resource": to_cel(resource or {})}


def _evaluate_one(
    rule: Rule, change: Mapping[str, Any], activation: dict[str, Any]
) -> Finding | None:
    from celpy.celtypes import BoolType

    address = str(change.get("address", ""))
    try:
        value = rule.program.evaluate(activation)
    except Exception as error:  # any failure of one expression is that rule's deny
        return Finding(rule.name, "deny", address, rule.message, describe(error))
    if not isinstance(value, BoolType | bool):
        shown = type(value).__name__.removesuffix("Type").lower()
        return Finding(
            rule.name, "deny", address, rule.message, f"the expression gave a {shown}, not a bool"
        )
    return Finding(rule.name, rule.outcome, address, rule.message) if value else None


def describe(error: BaseException) -> str:
    """One short line for a CEL evaluation error. cel-python nests its errors as
    `(message, cause type, cause args)`; the innermost messages say what went wrong."""
    parts: list[str] = []
    args: tuple[Any, ...] = error.args
    while args:
        head = args[0]
        if isinstance(head, bytes):
            head = head.decode("utf-8", "replace")
        if isinstance(head, str) and head != "evaluation error" and head not in " ".join(parts):
            parts.append(head)
        args = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    text = ": ".join(parts) or type(error).__name__
    if "NoneType" in text:
        text = "a field was read from null (change.after of a delete? read resource instead)"
    text = printable(text)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"
