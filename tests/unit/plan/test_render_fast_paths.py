"""The renderers' fast paths for common values give exactly what the general path gives.

A plan shows some 30,000 values for 10,000 resources, so plain strings, numbers and
dicts of string keys skip `json.dumps`'s set-up and the per-key sort calls; these tests
check them against the general encoding they stand in for, with controls, non-ASCII text
and registered secrets in the values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fbplan.plan.render.rows import format_value, scrub
from fbplan.printable import printable
from fbplan.secrets import values as secret
from fbplan.secrets.values import MASK, Sourced, register

SECRET = "fast-path-secret-Zq9"
register(SECRET)

_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet='ab\n\x1b\x7f\x85\u202e\u2028é"\\', max_size=12),
    st.builds(lambda a, b: a + SECRET + b, st.text(max_size=5), st.text(max_size=5)),
)
_scalar = st.one_of(_text, st.integers(), st.booleans(), st.none())
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=12,
)


def _general(value: Any) -> str:
    """A value as the plan showed it before the fast paths: every string redacted (dict
    keys sorted by their text first), encoded by `json.dumps`, controls escaped."""
    encoded = json.dumps(_redacted(value), ensure_ascii=False, separators=(", ", ": "))
    return printable(encoded)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return secret.redact(value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: str(item[0]))
        return {secret.redact(str(k)): _redacted(v) for k, v in items}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


@given(_value)
def test_a_value_is_shown_as_the_general_encoding_shows_it(value: Any) -> None:
    if value == MASK:
        return  # the mask itself is shown bare, not quoted
    assert format_value(value) == _general(value)


@given(st.dictionaries(_text, _scalar, max_size=6))
def test_a_dict_of_string_keys_is_scrubbed_in_key_order_with_keys_redacted(
    value: dict[str, Any],
) -> None:
    scrubbed = scrub(value)
    assert list(scrubbed) == [k.replace(SECRET, MASK) for k in sorted(value)]
    assert SECRET not in json.dumps(scrubbed, ensure_ascii=False)


def test_keys_of_other_types_still_sort_by_their_text() -> None:
    assert list(scrub({10: "a", 9: "b", "8": "c"})) == ["10", "8", "9"]


def test_a_sourced_value_shows_its_reference_not_the_value() -> None:
    value = Sourced("resolved-value-not-shown", "${env:TOKEN}")
    assert format_value(value) == '"${env:TOKEN}"'
    assert scrub({"token": value}) == {"token": "${env:TOKEN}"}


def test_printable_gives_plain_text_of_a_str_subclass() -> None:
    value = Sourced("plain", "${env:X}")
    shown = printable(value)
    assert type(shown) is str and shown == "plain"
    assert printable(Sourced("a\nb", "${env:X}")) == "a\\nb"


def test_a_value_registered_after_a_text_was_redacted_is_masked_in_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redaction remembers the results for short texts: a newly registered secret must
    still be masked in a text redacted (and remembered) before it was registered."""
    monkeypatch.setattr(secret, "_known", set())  # restored after the test
    text = "name: late-secret-value-42"
    assert secret.redact(text) == text
    assert secret.redact(text) == text  # now remembered
    register("late-secret-value-42")
    assert secret.redact(text) == f"name: {MASK}"
    assert format_value(text) == f'"name: {MASK}"'


def test_redaction_remembers_a_bounded_number_of_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secret, "_known", {"bounded-secret-1"})
    for n in range(secret._MEMO_SIZE + 100):
        assert secret.redact(f"text {n} bounded-secret-1") == f"text {n} {MASK}"
    assert len(secret._sorted[3]) <= secret._MEMO_SIZE
