"""The planner's blockers from its inputs: name conflicts, objects in use, the secret sink,
a stale saved plan; and the Plan cannot be changed once made."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fbplan.model import Resource, State
from fbplan.plan.inputs import PlanInputs, PlanRequest, SinkFacts
from fbplan.plan.model import Action, Plan
from fbplan.plan.planner import make_plan
from fbplan.spec.build import build_desired

SPEC: dict[str, Any] = {
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


class Names:
    """Names other workspaces use; records which kinds were asked about."""

    def __init__(self, **taken: set[str]) -> None:
        self.taken_by = {tuple(key.split("__")): frozenset(v) for key, v in taken.items()}
        self.asked: list[tuple[str, str]] = []

    def taken(self, kind: str, field: str) -> frozenset[str]:
        self.asked.append((kind, field))
        return self.taken_by.get((kind, field), frozenset())


def live_copy(desired: State, **changed: dict[str, Any]) -> State:
    live = State(desired.workspace)
    for r in desired:
        attrs = {**r.attrs, **changed.get(r.address, {})}
        live.add(Resource(r.kind, r.address, r.name, attrs, refs=r.refs, parent=r.parent, id="x"))
    return live


def plan(desired: State, live: State, **inputs: Any) -> Plan:
    return make_plan(PlanRequest("spec.yaml"), PlanInputs(desired, live, **inputs))


def rules(found: Plan) -> list[str]:
    return [b.rule for b in found.blockers]


def test_a_name_another_workspace_uses_blocks_the_plan() -> None:
    names = Names(bucket__name={"media"}, repo__name={"app"})
    found = plan(build_desired(SPEC), State("acme"), names_elsewhere=names)
    assert rules(found) == ["name-conflict", "name-conflict"]
    assert found.blockers[0].addresses == ("bucket.media",)
    assert "the bucket name 'media' is already used in another workspace" in (
        found.blockers[0].message
    )
    assert found.blockers[1].message.startswith("repo.app: the repository name 'app'")
    assert not any("already used" in note for note in found.notes)


def test_names_are_asked_about_only_for_kinds_the_plan_creates() -> None:
    desired = build_desired(SPEC)
    names = Names(bucket__bucket={"acme-media"})
    assert rules(plan(desired, live_copy(desired), names_elsewhere=names)) == []
    assert names.asked == []  # nothing created: no list call
    replaced = plan(
        desired,
        live_copy(desired, **{"bucket.media": {"bucket": "old"}}),
        names_elsewhere=names,
        sink=SinkFacts(configured=True),
    )
    assert rules(replaced) == ["name-conflict"]  # a replace registers the bucket anew
    assert "provider bucket 'acme-media'" in replaced.blockers[0].message


def test_a_bucket_in_use_by_an_object_the_plan_leaves_alone_blocks_its_replace() -> None:
    desired = build_desired({**SPEC, "repos": {}})
    live = live_copy(desired, **{"bucket.media": {"bucket": "old"}})
    live.add(Resource("repo", "repo.legacy", "legacy", {}, refs=("bucket.media",), id="r9"))
    found = plan(desired, live)
    assert [c.address for c in found.actionable] == ["bucket.media"]
    assert rules(found) == ["in-use"]
    assert found.blockers[0].addresses == ("bucket.media", "repo.legacy")
    assert "bucket.media is used by repo.legacy, which the plan leaves as it is" in (
        found.blockers[0].message
    )


def test_a_new_key_without_a_sink_or_with_a_foreign_entry_is_blocked() -> None:
    desired = build_desired(SPEC)
    assert rules(plan(desired, State("acme"), sink=SinkFacts(configured=False))) == ["secret-sink"]
    foreign = SinkFacts(configured=True, foreign={"repo.app.api_key.rw": "another's entry"})
    found = plan(desired, State("acme"), sink=foreign)
    assert [(b.rule, b.message) for b in found.blockers] == [("secret-sink", "another's entry")]
    assert rules(plan(desired, State("acme"), sink=SinkFacts(configured=True))) == []
    assert rules(plan(desired, State("acme"))) == []  # drift: the sink is not checked


def test_a_saved_plan_that_no_longer_matches_is_a_stale_plan_blocker() -> None:
    desired = build_desired(SPEC)
    saved = plan(desired, State("acme"), spec_digest="d1")
    request = PlanRequest("spec.yaml", saved=saved)
    same = make_plan(request, PlanInputs(desired, State("acme"), spec_digest="d1"))
    assert rules(same) == []
    edited = make_plan(request, PlanInputs(desired, State("acme"), spec_digest="d2"))
    assert rules(edited) == ["stale-plan"]
    assert "changed since the plan was saved" in edited.blockers[0].message
    moved = make_plan(request, PlanInputs(desired, live_copy(desired), spec_digest="d1"))
    assert [b.message for b in moved.blockers] == [
        "the live workspace changed since the plan was saved; make a new plan"
    ]


def test_a_plan_cannot_be_changed_once_made() -> None:
    found = plan(build_desired(SPEC), State("acme"))
    assert found.changes[0].action is Action.CREATE
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.notes = ("added later",)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        found.blockers.append  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(TypeError):
        found.variables["x"] = "y"  # type: ignore[index]
