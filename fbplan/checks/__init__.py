"""Plan checks: rules over a plan, written in CEL, that deny (block) or warn.

    checks file ─► load_checks (schema, CEL compiled) ─► Checks
    plan document (render_json's) ─► evaluate(checks, document) ─► CheckResults

Both are functions of their inputs only; the glue that adds the results to a plan (its
blockers and its `checks` section) is `fbplan.workflow`'s, and the option `--checks` the
CLI's. docs/checks.md is the user's guide.
"""

from __future__ import annotations

from fbplan.checks.evaluator import evaluate
from fbplan.checks.loader import Checks, ChecksError, Rule, checks_for_apply, load_checks
from fbplan.checks.results import CheckResults, Finding

__all__ = [
    "CheckResults",
    "Checks",
    "ChecksError",
    "Finding",
    "Rule",
    "checks_for_apply",
    "evaluate",
    "load_checks",
]
