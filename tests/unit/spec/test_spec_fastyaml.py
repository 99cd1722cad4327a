"""The fast reader of plain YAML (straight from the parser's events) gives the same data as
composing the nodes and building them, for every scalar form, and leaves anything else to
the composer. (The bounds on a spec file are in test_spec_inputs.py.)"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fbplan.spec import loader
from fbplan.spec.fastyaml import TooManyNodes, Unusual, read_plain_yaml
from fbplan.spec.loader import _Builder, _compose, _SafeLoader

HEADER = "version: 1\nworkspace: acme\n"

#: Plain scalars that resolve to every implicit type, and near misses that stay strings.
TOKENS = [
    "a", "S3", "us-east-1", "1", "-1", "+7", "0o17", "0x1F", "1_000", "0b101", "1:30", "1.5",
    "-.5e3", ".inf", "-.Inf", "true", "True", "FALSE", "yes", "No", "on", "OFF", "y", "n",
    "null", "Null", "~", "2024-01-02", "2024-01-02T03:04:05Z", "2024-1-2 3:04:05.5 +01:00",
    "yes-please", "null-ish", "true.", "1.2.3", "0.", "<<x", "t", "o", "Y", "N", "F",
    "${env:X}", "$${x}", "no such", "2024-13-45", "1e3", "https://x/y?z=1", "-", ".", "+",
]  # fmt: skip
STYLED = [
    "'1'", '"true"', "''", '""', "|\n    two\n    lines\n", ">-\n    folded\n    text\n",
    "!!str 12", '!!int "7"', "!!float 1", "!!bool yes", "!!null ''", "! 12", "!!binary aGk=",
    "!!timestamp 2024-01-02", '"\\u00e9\\n"', "'it''s'",
]  # fmt: skip


def slow(text: str) -> Any:
    """The data as the composer and the node builder read it."""
    node = _compose(text)
    if node is None:
        return None
    builder = _Builder("spec.yaml")
    data = builder.build(node, ())
    assert builder.problems == [] and isinstance(data, dict)
    return data


def fast(text: str) -> Any:
    return read_plain_yaml(text, _SafeLoader, max_nodes=10**6, max_values=10**6)


def typed(value: Any) -> Any:
    """`value` with the type of every scalar, to tell `1` from `True` and `"1"`."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value), value)


def assert_agree(text: str) -> None:
    """The fast reader gives the composer's data, or leaves the text to the composer where
    the composer finds a problem."""
    try:
        expected = slow(text)
    except yaml.MarkedYAMLError as error:  # the same syntax error, or left to the composer
        with pytest.raises((yaml.MarkedYAMLError, Unusual)) as caught:
            fast(text)
        assert isinstance(caught.value, Unusual) or str(caught.value) == str(error)
        return
    except AssertionError:  # the builder found a problem: left to it
        with pytest.raises(Unusual):
            fast(text)
        return
    assert typed(fast(text)) == typed(expected)


@pytest.mark.parametrize("token", TOKENS + STYLED)
def test_every_scalar_form_reads_as_the_composer_reads_it(token: str) -> None:
    assert_agree(f"value: {token}\nlist:\n  - {token}\n  - x\n")
    assert_agree(f"flow: {{v: {token}, w: [{token}, {token}]}}\n")


@pytest.mark.parametrize("token", TOKENS)
def test_keys_are_taken_as_written(token: str) -> None:
    if token == "-":
        pytest.skip("a list item, not a key")
    text = f"{token}: 1\n'{token}x': 2\n"
    assert_agree(text)
    assert list(fast(text)) == [token, f"{token}x"]


SCALARS = st.one_of(
    st.sampled_from(TOKENS), st.text(max_size=12), st.integers(), st.booleans(), st.none()
)
DATA = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=100, deadline=None)
@given(data=st.dictionaries(st.text(max_size=8), DATA, max_size=5), flow=st.booleans())
def test_any_dumped_document_reads_as_the_composer_reads_it(
    data: dict[str, Any], flow: bool
) -> None:
    assert_agree(yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True))


ANCHORED = [
    "a: &x 1\nb: *x\nc: [*x, *x]\n",
    "a: &x {k: [1, {m: n}]}\nb: *x\nc: {d: *x}\n",
    "a: &x [1, 2]\nb: [*x, *x]\n",
    "base: &b {x: 1, y: 2}\nm: {<<: *b, y: 3}\n",
    "a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nm: {y: 3, <<: [*a, *b], w: 4}\n",
    "a: &a {x: 1}\nb: &b {x: 2}\nm:\n  <<: *a\n  <<: *b\n",
    "m: {<<: {x: 1, y: 1}, x: 2}\n",
    "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\nd: [*b, *a]\n",
    "'<<': 1\nm: {'<<': 2, <<: {x: 1}}\n",
    "a: &x !!str 1\nb: *x\nc: &y 2024-01-02\nd: *y\n",
]


@pytest.mark.parametrize("text", ANCHORED)
def test_anchors_aliases_and_merge_keys_read_as_the_composer_reads_them(text: str) -> None:
    assert_agree(text)
    fast(text)  # and not left to the composer


def test_an_alias_gives_a_copy_at_each_place() -> None:
    data = fast("a: &x {k: [1]}\nb: *x\n")
    assert data == {"a": {"k": [1]}, "b": {"k": [1]}}
    assert data["a"] is not data["b"] and data["a"]["k"] is not data["b"]["k"]


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\nc: [*x, *x]\n",
        "a: &a {x: 1}\nm: {<<: [*a, *a], y: 2}\n",
        "a: &a {x: 1}\nm: {y: 2, <<: [*a, {z: 3}]}\n",
        "a: &a {x: 1}\nb: &b {<<: *a}\nm: {<<: *b, n: [*b]}\n",
    ],
)
def test_values_are_counted_as_the_builder_counts_them(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alias-expansion cap trips at the same count in both readers."""
    for cap in range(1, 25):
        monkeypatch.setattr(loader, "_MAX_NODES", cap)
        try:
            slow(text)
            builder_trips = False
        except loader._TooLarge:
            builder_trips = True
        try:
            read_plain_yaml(text, _SafeLoader, max_nodes=100, max_values=cap)
            reader_trips = False
        except Unusual:
            reader_trips = True
        assert reader_trips == builder_trips, cap


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {b: *x}\n",  # an alias inside the node it names
        "a: *x\n",  # an undefined alias
        "a: &x 1\nb: &x 2\n",  # a duplicate anchor
        "a: &x 1\nb: {<<: *x}\n",  # a merge key naming a scalar
        "a: {<<: [{k: 1}, [2]]}\n",  # a merge list holding a list
        "&k a: 1\nb: *k\n",  # an anchored key
        "a: 1\na: 2\n",  # a duplicate key
        "!!str a: 1\n",  # a tagged key
        "[a, b]: 1\n",  # a key that is a list
        "a: !Ref x\n",  # an unknown tag
        "- a\n",  # a top level that is not a mapping
        "a: 1\n---\nb: 2\n",  # two documents
        "a: !!int x\n",  # a value its tag cannot construct
        "a: =\n",  # the YAML value key, which SafeConstructor refuses
    ],
)
def test_anything_but_plain_yaml_is_left_to_the_composer(text: str) -> None:
    with pytest.raises(Unusual):
        fast(text)


@pytest.mark.parametrize(
    "text",
    ["a: [1\n", "a: b: c\n", "a:\n  - 1\n b: 2\n", "a: 'x\n", "a: {b: [c}\n", "a: 1\n- b\n"],
)
def test_a_syntax_error_is_the_one_the_composer_stops_at(text: str) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as composing:
        _compose(text)
    with pytest.raises(yaml.MarkedYAMLError) as reading:
        fast(text)
    assert str(reading.value) == str(composing.value)


def test_the_node_cap_counts_keys_and_values_on_the_way() -> None:
    text = "a: [x, y]\nb: z\n"  # the mapping, 2 keys, the list, 3 scalars: 7 nodes
    assert read_plain_yaml(text, _SafeLoader, max_nodes=7, max_values=10) is not None
    with pytest.raises(TooManyNodes):
        read_plain_yaml(text, _SafeLoader, max_nodes=6, max_values=10)
