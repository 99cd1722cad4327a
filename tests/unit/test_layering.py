"""The layering of DESIGN.md, read from the import graph of the source (ast, no import):
plan/ never imports backend/; nothing outside apply/ but the workflow, which wires the
stages together, imports apply/ (the CLI reaches it through the workflow); and secrets/,
which planning, apply and smoke share, imports none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import fbplan

ROOT = Path(fbplan.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (also inside functions), absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = (
        module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    )
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in ROOT.rglob("*.py")}


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_import_graph_is_read() -> None:
    modules = graph()
    assert "fbplan.backend.live" in modules["fbplan.workflow"]
    assert "fbplan.plan.model" in modules["fbplan.plan.planner"]


def test_plan_does_not_import_backend() -> None:
    wrong = {
        (module, target)
        for module, targets in graph().items()
        if inside(module, "fbplan.plan")
        for target in targets
        if inside(target, "fbplan.backend")
    }
    assert not wrong, sorted(wrong)


def test_only_the_workflow_imports_apply() -> None:
    wrong = {
        (module, target)
        for module, targets in graph().items()
        if not inside(module, "fbplan.apply") and module != "fbplan.workflow"
        for target in targets
        if inside(target, "fbplan.apply")
    }
    assert not wrong, sorted(wrong)


def test_secrets_import_none_of_the_stages_that_use_them() -> None:
    stages = ("fbplan.apply", "fbplan.plan", "fbplan.smoke", "fbplan.workflow")
    wrong = {
        (module, target)
        for module, targets in graph().items()
        if inside(module, "fbplan.secrets")
        for target in targets
        if any(inside(target, stage) for stage in stages)
    }
    assert not wrong, sorted(wrong)
