"""--target and --exclude: the targets, what they contain, what they depend on, and what
they force; what is left out, and the changes that must be left out with it."""

from __future__ import annotations

from fbplan.model import Resource, State
from fbplan.plan.inputs import PlanInputs, PlanRequest
from fbplan.plan.model import Action, Plan
from fbplan.plan.planner import make_plan
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


def plan_of(desired: State, live: State, **request: tuple[str, ...]) -> Plan:
    return make_plan(PlanRequest("spec.yaml", **request), PlanInputs(desired, live))


def planned(desired: State, live: State, *targets: str) -> dict[str, Action]:
    return {c.address: c.action for c in plan_of(desired, live, targets=targets).actionable}


def excluding(desired: State, live: State, *excludes: str) -> dict[str, Action]:
    return {c.address: c.action for c in plan_of(desired, live, excludes=excludes).actionable}


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
    plan = plan_of(desired, State("acme"), targets=("bucket.b",))
    assert any("limited by --target" in note for note in plan.notes)
    assert plan.targets == ("bucket.b",)


def test_an_exclude_leaves_out_what_it_contains_and_what_needs_it() -> None:
    desired = build_desired(SPEC)
    assert excluding(desired, State("acme"), "bucket.a") == {
        "workspace": Action.CREATE,
        "bucket.b": Action.CREATE,
        "repo.web": Action.CREATE,
    }  # repo.app is attached to bucket.a; its key is in repo.app


def test_excluding_a_replaced_bucket_leaves_out_the_repo_it_forces_and_says_why() -> None:
    desired = build_desired(SPEC)
    live = live_copy(desired, **{"bucket.a": {"bucket": "old-a"}, "bucket.b": {"bucket": "old-b"}})
    plan = plan_of(desired, live, excludes=("bucket.a",))
    assert {c.address: c.action for c in plan.actionable} == {
        "bucket.b": Action.REPLACE,
        "repo.web": Action.REPLACE,
    }
    assert plan.excludes == ("bucket.a",)
    assert "repo.app: left out, as it needs the change of bucket.a, which is left out" in " ".join(
        plan.notes
    )
    assert any("leaves out --exclude bucket.a" in note for note in plan.notes)


def test_excluding_the_repo_a_replace_forces_leaves_out_that_replace_too() -> None:
    desired = build_desired(SPEC)
    live = live_copy(desired, **{"bucket.a": {"bucket": "old-a"}})
    assert excluding(desired, live, "repo.app") == {}  # bucket.a cannot go while attached
    plan = plan_of(desired, live, excludes=("repo.app",))
    assert (
        "bucket.a: left out, as repo.app, which is left out (--exclude), cannot stay as it is "
        "while bucket.a is replaced" in plan.notes
    )


def test_an_exclude_and_a_target_together() -> None:
    desired = build_desired(SPEC)
    assert planned(desired, State("acme"), "repo.app") == {
        "workspace": Action.CREATE,
        "bucket.a": Action.CREATE,
        "repo.app": Action.CREATE,
        "repo.app.api_key.rw": Action.CREATE,
    }
    plan = plan_of(desired, State("acme"), targets=("repo.app",), excludes=("repo.app.api_key.rw",))
    assert [c.address for c in plan.actionable] == ["workspace", "bucket.a", "repo.app"]
