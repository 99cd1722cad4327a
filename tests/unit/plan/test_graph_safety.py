"""Apply order and the safety rules."""

from __future__ import annotations

import pytest

from fbplan.model import Resource, State
from fbplan.plan.diff import diff
from fbplan.plan.graph import CycleError, Step, StepOp, build_graph, find_reference_cycle, order
from fbplan.plan.model import Action, Change, Plan
from fbplan.plan.safety import delete_blocker, plan_blockers
from fbplan.spec.build import build_desired

SPEC = {
    "version": 1,
    "workspace": "acme",
    "buckets": {"media": {"bucket": "acme-media", "storage_type": "S3"}},
    "repos": {
        "app": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [{"bucket": "media", "folder": "media"}],
            "api_keys": {"rw": {"access": "WRITE"}},
        }
    },
}


def test_creates_wait_for_what_they_reference() -> None:
    desired = build_desired(SPEC)
    steps = order(build_graph(diff(desired, State("acme")), desired, State("acme")))
    positions = {s.address: i for i, s in enumerate(steps)}
    assert positions["workspace"] < positions["bucket.media"] < positions["repo.app"]
    assert positions["repo.app"] < positions["repo.app.api_key.rw"]


def test_deletes_run_in_reverse_dependency_order() -> None:
    desired = build_desired(SPEC)
    live = State("acme")
    for r in desired:
        live.add(Resource(r.kind, r.address, r.name, r.attrs, refs=r.refs, parent=r.parent, id="x"))
    only_ws = State("acme")
    only_ws.add(desired.resources["workspace"])
    plan = diff(only_ws, live, prune=frozenset({"buckets", "repos", "api_keys"}))
    steps = [s.address for s in order(build_graph(plan, only_ws, live))]
    assert steps == ["repo.app.api_key.rw", "repo.app", "bucket.media"]


def test_replace_deletes_before_it_creates() -> None:
    desired = build_desired(SPEC)
    live = State("acme")
    for r in desired:
        attrs = {**r.attrs, "storage_type": "GCS"} if r.kind == "bucket" else r.attrs
        live.add(Resource(r.kind, r.address, r.name, attrs, refs=r.refs, parent=r.parent, id="x"))
    steps = order(build_graph(diff(desired, live), desired, live))
    assert steps.index(Step("bucket.media", "delete")) < steps.index(Step("bucket.media", "create"))
    assert steps.index(Step("repo.app", "delete")) < steps.index(Step("bucket.media", "delete"))
    assert steps.index(Step("bucket.media", "create")) < steps.index(Step("repo.app", "create"))


def test_reference_cycle_is_found() -> None:
    state = State("acme")
    state.add(Resource("repo", "repo.a", "a", refs=("repo.b",)))
    state.add(Resource("repo", "repo.b", "b", refs=("repo.a",)))
    assert find_reference_cycle(state) in (
        ["repo.a", "repo.b", "repo.a"],
        ["repo.b", "repo.a", "repo.b"],
    )
    with pytest.raises(CycleError):
        order(
            {Step("a", "create"): {Step("b", "create")}, Step("b", "create"): {Step("a", "create")}}
        )


def test_a_cycle_is_one_error_naming_its_steps_in_the_order_they_wait() -> None:
    a, b, c, d = (Step(name, StepOp.CREATE) for name in "abcd")
    with pytest.raises(CycleError) as caught:
        order({d: set(), a: {b, d}, b: {c}, c: {a}})  # a waits for b, b for c, c for a
    assert str(caught.value) == "dependency cycle: create a -> create b -> create c -> create a"
    assert caught.value.cycle == [a, b, c, a]


def test_order_goes_level_by_level_by_address_within_a_level() -> None:
    a, b, c, d = (Step(name, StepOp.CREATE) for name in "abcd")
    assert order({d: set(), c: {d}, b: set(), a: {b, c}}) == [b, d, c, a]


def _deletes(kind: str, count: int, protect: bool = False) -> list[Change]:
    return [Change(f"{kind}.b{i}", kind, Action.DELETE, protect=protect) for i in range(count)]


def _live_buckets(count: int) -> State:
    live = State("acme")
    for i in range(count):
        live.add(Resource("bucket", f"bucket.b{i}", f"b{i}", id=str(i)))
    return live


def test_protect_blocks_a_destructive_plan() -> None:
    plan = Plan("acme", changes=_deletes("bucket", 1, protect=True))
    (blocker,) = plan_blockers(plan, _live_buckets(1))
    assert blocker.rule == "protect" and blocker.addresses == ("bucket.b0",)


def test_threshold_blocks_more_than_a_third_of_six_or_more_unless_forced() -> None:
    assert plan_blockers(Plan("acme", changes=_deletes("bucket", 2)), _live_buckets(6)) == []
    (blocker,) = plan_blockers(Plan("acme", changes=_deletes("bucket", 3)), _live_buckets(6))
    assert blocker.rule == "threshold" and "3 of 6" in blocker.message
    assert (
        plan_blockers(Plan("acme", changes=_deletes("bucket", 3)), _live_buckets(6), force=True)
        == []
    )
    assert plan_blockers(Plan("acme", changes=_deletes("bucket", 5)), _live_buckets(5)) == []


def test_deletes_need_allow_delete() -> None:
    plan = Plan("acme", changes=_deletes("bucket", 1))
    blocker = delete_blocker(plan, allow_delete=False)
    assert blocker and "--allow-delete" in blocker.message
    assert delete_blocker(plan, allow_delete=True) is None
