"""The registry is the one place that knows the kinds: the JSON Schema's sections and prune
keys are the registry's, addresses map back to their kind, and no module outside the places
docs/adding-a-kind.md lists names a kind (so adding one touches those places only)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from fbplan.kinds import KINDS, NAMED_SECTIONS, PRUNE_KEYS, REGISTRY, SECRET_FIELDS
from fbplan.kinds.base import kind_of_address
from fbplan.spec.validate import load_schema

PACKAGE = Path(__file__).parents[3] / "fbplan"
DOC = PACKAGE.parent / "docs" / "adding-a-kind.md"
#: Top-level spec sections that are not resource kinds.
SETTINGS = {
    "version",
    "workspace",
    "variables",
    "prune",
    "secrets",
    "smoke",
    "outputs",
    "ignore",
    "approve",
}
#: Where a kind may be named: the documented places of docs/adding-a-kind.md.
# spec/schema_check.py is the schema compiled (scripts/gen_schema_check.py).
ALLOWED = ("kinds/", "emulator/", "contract/", "schemas/", "spec/schema_check.py")


def _schema_def(ref: str) -> dict:
    return load_schema()["$defs"][ref.rsplit("/", 1)[-1]]


def test_the_schemas_sections_are_the_registrys() -> None:
    sections = set(load_schema()["properties"]) - SETTINGS
    assert sections == set(NAMED_SECTIONS)


def test_the_schemas_prune_keys_are_the_registrys() -> None:
    prune = load_schema()["properties"]["prune"]["anyOf"]
    keys = next(form["properties"] for form in prune if form.get("type") == "object")
    assert list(keys) == list(PRUNE_KEYS)


def test_every_child_kind_is_a_field_of_its_parents_schema_entry() -> None:
    for kind in KINDS:
        if kind.parent_kind:
            parent = REGISTRY[kind.parent_kind]
            entry = load_schema()["properties"][parent.section]["additionalProperties"]
            assert kind.section in _schema_def(entry["$ref"])["properties"], kind.name


def test_every_secret_field_is_a_field_of_its_sections_schema_entry() -> None:
    for section, field in SECRET_FIELDS:
        entry = load_schema()["properties"][section]["additionalProperties"]
        assert field in _schema_def(entry["$ref"])["properties"], (section, field)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_an_address_maps_back_to_its_kind(kind) -> None:
    parent = REGISTRY[kind.parent_kind].address("app") if kind.parent_kind else None
    for name in ("x", "api_key", "ana@mail.example.com"):  # names that look like segments
        assert kind_of_address(kind.address(name, parent)) == kind.name


def _literals(path: Path) -> set[str]:
    """The string constants of a module, docstrings excepted."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    }


#: Kinds that modules outside the registry still name, for a behaviour of their own (not
#: a list of all kinds): smoke checks and outputs use repos, buckets and repo keys; policies
#: scope names a repo; stats reads repos and buckets; the conflict check (engineer (a)'s) the
#: bucket and repo names. A new kind must not be added here: docs/adding-a-kind.md.
DOMAIN_USES = {
    "workspace",
    "bucket",
    "buckets",
    "repo",
    "repos",
    "repo_api_key",
    "api_key",
    "api_keys",
    "repo_ai_api_key",
    "ai_api_key",
    "ai_api_keys",
    "ai_llms",
    "ai_llm",
    "provider_key",
    "provider_keys",
    "policy",
    "policies",
}


def test_no_module_outside_the_documented_places_names_a_kind_it_does_not_use() -> None:
    words = {w for kind in KINDS for w in (kind.name, kind.section, kind.segment)}
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(ALLOWED):
            continue
        named = (words & _literals(path)) - DOMAIN_USES
        if named:
            offenders[relative] = sorted(named)
    assert offenders == {}


def test_no_module_outside_the_registry_lists_the_kinds() -> None:
    """A literal tuple, list, set or dict naming three kinds or more (by name or section) is
    a list of kinds kept by hand, which a new kind would silently miss."""
    kind_of = {w: kind.name for kind in KINDS for w in (kind.name, kind.section)}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
                continue
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            named = {i.value for i in items if isinstance(i, ast.Constant)} & set(kind_of)
            if len({kind_of[word] for word in named}) >= 3:
                offenders.append(f"{relative}:{node.lineno}: {sorted(named)}")
    assert offenders == []


def test_the_plan_format_lists_every_kind() -> None:
    text = (PACKAGE.parent / "docs" / "plan-format.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `kind` | string |"))
    assert re.findall(r"`(\w+)`", row.split("|")[3]) == [kind.name for kind in KINDS]


def test_the_walkthrough_names_the_files_a_new_kind_touches() -> None:
    text = DOC.read_text(encoding="utf-8")
    for place in (
        "fbplan/kinds/__init__.py",
        "fbplan/schemas/fbplan.schema.json",
        "fbplan/emulator/",
        "fbplan/contract/",
        "docs/spec-reference.md",
    ):
        assert place in text
    assert re.search(r"workspace_member", text) and re.search(r"repo_cloud_key", text)
