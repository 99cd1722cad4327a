"""The spec key export gives a backend name that is not one, and the key rule it follows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fbplan.kinds.base import KEY_PATTERN, spec_key
from fbplan.spec.validate import load_schema


def test_the_key_rule_is_the_schemas() -> None:
    pattern = load_schema()["$defs"]["name"]["pattern"]
    assert pattern.endswith(KEY_PATTERN.pattern + "$")


def test_a_console_name_becomes_a_readable_key_not_taken_yet() -> None:
    assert spec_key("my llm") == "my-llm"
    assert spec_key("Chat (GPT) model!") == "Chat-GPT-model"
    assert spec_key("my llm", {"my-llm"}) == "my-llm-2"
    assert spec_key("my llm", {"my-llm", "my-llm-2"}) == "my-llm-3"
    assert spec_key("???") == "unnamed"


@given(st.text(max_size=300), st.sets(st.text(max_size=10), max_size=5))
def test_any_name_gives_a_valid_key_not_taken(name: str, taken: set[str]) -> None:
    key = spec_key(name, taken)
    assert KEY_PATTERN.fullmatch(key) and key not in taken
