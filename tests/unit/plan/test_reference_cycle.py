"""find_reference_cycle: a linear check first, then the same cycle named as `order` names it
(`_cycle_named_by_order`, which alone was the whole check before)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fbplan.model import Resource, State
from fbplan.plan.graph import _cycle_named_by_order, find_reference_cycle

NAMES = [f"repo.r{i}" for i in range(8)]


def _state(refs: dict[str, list[str]]) -> State:
    state = State("acme")
    for address, targets in refs.items():
        state.add(Resource("repo", address, address, refs=tuple(targets)))
    return state


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(NAMES),
        st.lists(st.sampled_from([*NAMES, "bucket.elsewhere"]), max_size=3),
        max_size=len(NAMES),
    )
)
def test_the_cycle_found_is_the_one_order_names(refs: dict[str, list[str]]) -> None:
    state = _state(refs)
    assert find_reference_cycle(state) == _cycle_named_by_order(state)


def test_a_long_chain_has_no_cycle_and_closing_it_makes_one() -> None:
    chain = {f"repo.r{i:05d}": [f"repo.r{i + 1:05d}"] for i in range(20_000)}
    chain["repo.r20000"] = []
    assert find_reference_cycle(_state(chain)) is None
    chain["repo.r20000"] = ["repo.r19998"]
    assert find_reference_cycle(_state(chain)) == [
        "repo.r19998",
        "repo.r19999",
        "repo.r20000",
        "repo.r19998",
    ]


def test_a_resource_that_references_itself_is_a_cycle() -> None:
    assert find_reference_cycle(_state({"repo.a": ["repo.a"]})) == ["repo.a", "repo.a"]
