"""The JSON Schema itself, its packaging, and the loader's robustness on arbitrary YAML."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from fbplan.errors import SpecError
from fbplan.spec import Spec, load_schema, load_spec, schema_path

REPO_ROOT = Path(__file__).resolve().parents[3]
NAME_PATTERN = "^(?![^\\n]*\\n)[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


def _properties(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every declared property (not those inside `if` conditions), with its location."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{where}/properties/{name}", sub
        for key, value in node.items():
            if key != "if":
                yield from _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{where}/{index}")


def test_schema_is_a_valid_2020_12_schema() -> None:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]


def test_every_property_has_a_description() -> None:
    found = list(_properties(load_schema()))
    assert len(found) > 60
    missing = [where for where, sub in found if not sub.get("description")]
    assert missing == []


def test_every_object_is_closed() -> None:
    def objects(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if "properties" in node and node.get("type") == "object":
                yield node
            for key, value in node.items():
                if key != "if":
                    yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    assert all(obj.get("additionalProperties") is False for obj in objects(load_schema()))


def test_names_use_the_name_pattern() -> None:
    assert load_schema()["$defs"]["name"]["pattern"] == NAME_PATTERN
    assert re.search(NAME_PATTERN, "app-rw_2")
    assert not re.search(NAME_PATTERN, "a.b")
    assert not re.search(NAME_PATTERN, "app\n")  # Python's `$` also matches before a last \n


def test_schema_is_packaged_and_linked() -> None:
    path = schema_path()
    assert path.is_file()
    assert path.parent.name == "schemas"
    assert json.loads(path.read_text()) == load_schema()
    assert (REPO_ROOT / "schemas" / "fbplan.schema.json").read_text() == path.read_text()


def test_raw_spec_with_references_passes_the_schema_as_editors_see_it(fixtures: Path) -> None:
    raw = yaml.safe_load((fixtures / "valid-full.yaml").read_text())
    raw["ai_llms"]["openai"]["endpoint"] = "${env:OPENAI_BASE_URL}"
    assert list(Draft202012Validator(load_schema()).iter_errors(raw)) == []


def test_docs_mention_every_property() -> None:
    docs = (REPO_ROOT / "docs" / "spec-reference.md").read_text()
    names = {where.rsplit("/", 1)[1] for where, _ in _properties(load_schema())}
    assert sorted(name for name in names if f"`{name}`" not in docs) == []


_KEYS = st.sampled_from(
    [
        "version",
        "workspace",
        "buckets",
        "repos",
        "bucket",
        "storage_type",
        "mode",
        "secret",
        "key",
        "provider_key",
        "ai_llms",
        "folder",
        "master",
        "scope",
        "smoke",
        "storage",
        "x-y",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(["S3", "MIRROR", "${env:X}", "${var:v}", "$${", "${", "repo:a", "https://x"]),
    st.text(max_size=8),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.dictionaries(_KEYS, _DATA, max_size=6))
def test_any_yaml_gives_a_spec_or_a_spec_error(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        result = load_spec(path, env={"X": "env-value"}, require_env=False)
    except SpecError as error:
        assert error.problems
        assert all("env-value" not in str(problem) for problem in error.problems)
    else:
        assert isinstance(result, Spec)
