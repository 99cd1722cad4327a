"""The generated schema check (fbplan/spec/schema_check.py) against jsonschema.

`fbplan validate` asks jsonschema only when the generated check rejects a spec, so the
check must never accept what jsonschema rejects; these tests hold it to more: the same
answer on every spec of the repository and on random mutations of valid ones.
"""

from __future__ import annotations

import ast
import copy
import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbplan.spec import schema_check
from fbplan.spec.validate import _validator
from tests.unit.schema_generator import generator as _generator

ROOT = Path(__file__).resolve().parents[3]

# Every section and every alternative the schema has, valid: a seed for the mutations.
EVERYTHING: dict[str, Any] = {
    "version": 1,
    "workspace": {"name": "acme ${var:env}", "protect": True},
    "variables": {"env": "prod", "team.name": "web"},
    "prune": {"buckets": True, "policies": False},
    "ignore": {
        "changes": {"bucket.media": ["region"], "repos": ["mode"]},
        "unmanaged": {"buckets": ["legacy"], "policies": ["old"]},
    },
    "approve": ["delete bucket.old", "replace repo.app"],
    "provider_keys": {
        "aws": {
            "provider": "AWS",
            "key": "AKIA",
            "secret": "${env:AWS_SECRET}",
            "region": "us-east-1",
            "endpoint": "https://s3.example.com",
            "match": {"id": "abc-123"},
        }
    },
    "buckets": {
        "media": {
            "bucket": "media-prod",
            "storage_type": "S3",
            "region": "eu",
            "provider_key": "aws",
        },
        "logs": {
            "bucket": "logs",
            "storage_type": "GCS",
            "region": "eu",
            "key": "k",
            "secret": "${file:./s}",
            "name": "Logs bucket",
            "renamed_from": "old-logs",
        },
    },
    "ai_llms": {"gpt": {"ai_type": "OPENAI", "endpoint": "${var:url}", "secret": "${env:K}"}},
    "repos": {
        "app": {
            "storage_type": "S3",
            "mode": "MIRROR",
            "buckets": [{"bucket": "media", "folder": "", "master": True}],
            "ai_llms": ["gpt"],
            "api_keys": {"writer": {"access": "WRITE"}},
            "ai_api_keys": {"chat": {"ai_type": "OPENAI", "protect": False}},
            "cloud_keys": {"ci": None, "ops": {"protect": True}},
        }
    },
    "policies": {
        "pii": {"scope": "repo:app", "risk": "HIGH", "action": "block", "content": "no PII"}
    },
    "members": {
        "ana@example.com": {"role": "ADMIN"},
        "bob": {"role": "READ", "match": {"id": "user-1"}},
    },
    "secrets": {"sink": {"type": "aws_secretsmanager", "prefix": "fb/", "region": "eu"}},
    "smoke": {
        "storage": [{"repo": "app", "api_key": "writer", "endpoint": "auto"}],
        "ai": [{"repo": "app", "ai_api_key": "chat", "model": "gpt-4o", "prompt": "hi"}],
    },
    "outputs": {
        "values": {"KEY": {"key_id": "repo.app.api_key.writer", "bridge_endpoint": "auto"}},
        "targets": {
            "env": {"type": "dotenv", "path": ".env", "values": ["KEY"]},
            "aws": {"type": "aws_secretsmanager", "name": "x"},
        },
    },
}


def _jsonschema_valid(document: Any) -> bool:
    return not any(True for _ in _validator().iter_errors(document))


def _spec_files() -> Iterator[Path]:
    for folder in ("examples", "tests"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                yield path


def _inline_specs() -> Iterator[str]:
    """The specs the tests quote as strings (a mapping with `version`, `workspace` or a
    section), as they are written."""
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if (
                isinstance(text, str)
                and "\n" in text
                and ("version:" in text or "workspace:" in text)
            ):
                yield text


def _documents() -> list[Any]:
    found: list[Any] = [EVERYTHING]
    texts = [p.read_text(encoding="utf-8") for p in _spec_files()] + list(_inline_specs())
    for text in texts:
        for candidate in (text, "version: 1\nworkspace: acme\n" + text):
            try:
                found.append(yaml.safe_load(candidate))
            except yaml.YAMLError:
                continue
    return found


DOCUMENTS = _documents()


def test_the_committed_checks_are_generated_from_the_schemas_as_they_are() -> None:
    """The spec's check, and the contract's (fbplan/contract/checks/), none left over."""
    generator = _generator()
    modules = generator.generate()
    assert generator.TARGET in modules
    assert any(path.parent == generator.CONTRACT_CHECKS for path in modules)
    stale = [
        str(path.relative_to(ROOT))
        for path, text in modules.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    stale += [str(path.relative_to(ROOT)) for path in generator.stale_modules()]
    assert stale == [], "out of date: run python scripts/gen_schema_check.py"


def test_a_keyword_the_drafts_may_read_differently_stops_the_generation() -> None:
    generator = _generator()
    for keyword, value in [("prefixItems", [{}]), ("dependentRequired", {}), ("format", "email")]:
        with pytest.raises(ValueError, match=keyword):
            generator.prepare({"type": "object", "properties": {"a": {keyword: value}}})


def test_a_ref_with_siblings_is_checked_with_them_as_in_draft_2020_12() -> None:
    prepared = _generator().prepare({"$ref": "#/$defs/a", "minLength": 2, "description": "x"})
    assert prepared == {"allOf": [{"$ref": "#/$defs/a"}, {"minLength": 2}]}


def test_every_spec_of_the_repository_gets_the_same_answer() -> None:
    answers = [(schema_check.is_valid(d), _jsonschema_valid(d)) for d in DOCUMENTS]
    assert [fast for fast, _ in answers] == [slow for _, slow in answers]
    assert sum(slow for _, slow in answers) >= 20  # both kinds are there in numbers
    assert sum(not slow for _, slow in answers) >= 20


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("version",), True),  # 1 == True in Python, not in JSON
        (("version",), 1.0),  # an integer for jsonschema too
        (("version",), "1"),
        (("approve",), ("delete bucket.old",)),  # a tuple is no JSON array
        (("repos", "app", "ai_llms"), ("gpt",)),
        (("buckets", "media", "bucket"), ""),
        (("buckets", "media", "provider_key"), "aws\n"),  # `$` before a final newline
        (("buckets", "media", "name"), "Media\n"),
        (("buckets", "media", "name"), "Media\nbucket"),
        (("buckets", "media", "storage_type"), "s3"),
        (("policies", "pii", "content"), " \t"),
        (("policies", "pii", "scope"), "repo:ápp"),
        (("members", "ana@example.com", "role"), "OWNER"),
        (("repos", "app", "cloud_keys", "ci"), []),
        (("secrets", "sink", "prefix"), None),
        (("workspace",), datetime.date(2024, 1, 1)),
        (("ignore", "unmanaged", "buckets"), ["a", "a"]),
        (("ignore", "unmanaged", "buckets"), ["True", True]),
    ],
)
def test_values_where_python_and_json_differ_get_the_same_answer(
    where: tuple[str, ...], value: Any
) -> None:
    document = copy.deepcopy(EVERYTHING)
    parent = document
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    assert schema_check.is_valid(document) == _jsonschema_valid(document)


# --- random mutations of valid specs -----------------------------------------------------

VALID = [d for d in DOCUMENTS if _jsonschema_valid(d)]
WORDS = [
    "S3", "s3", "GCS", "BLOB", "OPENAI", "READ", "WRITE", "ADMIN", "NORMAL", "MIRROR", "LOW",
    "block", "dotenv", "json", "aws_secretsmanager", "github_env", "auto", "https://x.io",
    "${env:A}", "${file:./a}", "${var:v}", "${env:}", "", " ", "a", "a b", "a\n", "-a", "a_b",
    "x" * 63, "x" * 64, "x" * 256, "é", "名前", "ana@example.com", "Ana@example.com", "repo:a",
    "delete bucket.a", "provider", "bucket", "name", "protect", "match", "id", "master",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=8),
    st.dates(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(st.sampled_from(WORDS), inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


REPLACEMENTS: list[Any] = [
    None, True, 0, 1.0, 2.5, "", "?!", "a\n", "READ", "${env:A}", [], ["?!"], ("x",), {},
    {"?!": 1}, datetime.date(2024, 1, 1),
]  # fmt: skip


def _single_changes(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`document` with one change: each value replaced by each of REPLACEMENTS, each field
    removed, an unknown field added to each mapping, and each key renamed to a bad name."""
    for path in list(_paths(document))[1:]:
        for change in [*REPLACEMENTS, "remove", "add", "rename"]:
            changed = copy.deepcopy(document)
            parent = changed
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            if change == "remove" and isinstance(parent, dict):
                del parent[last]
            elif change == "add" and isinstance(parent[last], dict):
                parent[last]["?!"] = "x"
            elif change == "rename" and isinstance(parent, dict):
                parent["-bad name"] = parent.pop(last)
            elif change not in ("remove", "add", "rename"):
                parent[last] = copy.deepcopy(change)
            else:
                continue
            yield changed


def test_every_single_change_to_a_full_spec_gets_the_same_answer() -> None:
    full = yaml.safe_load((ROOT / "examples" / "full.yaml").read_text(encoding="utf-8"))
    changed = [d for seed in (EVERYTHING, full) for d in _single_changes(seed)]
    differ = [d for d in changed if schema_check.is_valid(d) != _jsonschema_valid(d)]
    assert differ == []
    assert len(changed) > 4000


@st.composite
def mutants(draw: st.DrawFn) -> Any:
    """A valid spec with one to three changes: a value replaced (wrong type, bad enum, bad
    name), a field added (unknown or misplaced), one removed (a required one, maybe) or a
    key renamed (a bad name), anywhere in any section."""
    document = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(document))
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        match draw(st.sampled_from(["replace", "add", "remove", "rename"])):
            case "replace":
                parent[last] = draw(VALUES)
            case "add" if isinstance(parent[last], dict):
                parent[last][draw(st.sampled_from(WORDS))] = draw(VALUES)
            case "remove" if isinstance(parent, dict):
                del parent[last]
            case "rename" if isinstance(parent, dict):
                parent[draw(st.sampled_from(WORDS))] = parent.pop(last)
            case _:
                parent[last] = draw(VALUES)
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_a_mutated_spec_gets_the_same_answer(document: Any) -> None:
    assert schema_check.is_valid(document) == _jsonschema_valid(document)
