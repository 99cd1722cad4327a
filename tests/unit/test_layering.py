"""Dependencies point down the pipeline: planning, smoke and outputs reach secrets through
fbplan.secrets, and only the commands that carry out a plan import fbplan.apply."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "fbplan"
# `fbplan apply` and `fbplan destroy`, and the stage wiring they call (workflow.apply_prepared).
RUN_APPLY = {"cli/apply.py", "workflow.py"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def importers_of(package: str) -> set[str]:
    return {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name == package or name.startswith(f"{package}.") for name in imported(path))
    }


def test_only_the_commands_that_carry_out_a_plan_import_apply() -> None:
    outside = {name for name in importers_of("fbplan.apply") if not name.startswith("apply/")}
    assert outside == RUN_APPLY


def test_secrets_import_neither_apply_nor_the_stages_that_use_them() -> None:
    for path in (PACKAGE / "secrets").glob("*.py"):
        stages = ("fbplan.apply", "fbplan.plan", "fbplan.smoke", "fbplan.workflow")
        assert not any(name.startswith(stages) for name in imported(path)), path.name
