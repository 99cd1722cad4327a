"""--target: the targets, what they contain, what they depend on, and what they force."""

from __future__ import annotations

from fbplan.model import Resource, State
from fbplan.plan.model import Action
from fbplan.plan.planner import PlanOptions, make_plan
from fbplan.spec.build import build_desired

SPEC = {
    "version": 1,
    "workspace": "acme",
    "buckets": {
        "a": {"bucket": "acme-a", "storage_type": "S3"},
        "b": {"bucket": "acme-b", "storage_type": "S3"},
    },
    "repos": {
        "app": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [{"bucket": "a", "folder": "a"}],
            "api_keys": {"rw": {"access": "WRITE"}},
        },
        "web": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [{"bucket": "b", "folder": "b"}],
        },
    },
}


def live_copy(desired: State, **changed_attrs: dict) -> State:
    live = State(desired.workspace)
    for r in desired:
        attrs = {**r.attrs, **changed_attrs.get(r.address, {})}
        live.add(Resource(r.kind, r.address, r.name, attrs, refs=r.refs, parent=r.parent, id="x"))
    return live


def planned(desired: State, live: State, *targets: str) -> dict[str, Action]:
    plan = make_plan(desired, live, PlanOptions(targets=targets))
    return {c.address: c.action for c in plan.actionable}


def test_a_target_brings_what_it_contains_and_depends_on_and_nothing_else() -> None:
    desired = build_desired(SPEC)
    assert planned(desired, State("acme"), "repo.app") == {
        "workspace": Action.CREATE,
        "bucket.a": Action.CREATE,
        "repo.app": Action.CREATE,
        "repo.app.api_key.rw": Action.CREATE,
    }


def test_a_targeted_replace_brings_what_it_forces() -> None:
    desired = build_desired(SPEC)
    live = live_copy(desired, **{"bucket.a": {"bucket": "old-a"}, "bucket.b": {"bucket": "old-b"}})
    assert planned(desired, live, "bucket.a") == {
        "bucket.a": Action.REPLACE,
        "repo.app": Action.REPLACE,
        "repo.app.api_key.rw": Action.REPLACE,
    }


def test_a_targeted_plan_says_it_is_limited() -> None:
    desired = build_desired(SPEC)
    plan = make_plan(desired, State("acme"), PlanOptions(targets=("bucket.b",)))
    assert any("limited by --target" in note for note in plan.notes)
