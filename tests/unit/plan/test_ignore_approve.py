"""The spec's `ignore` (set aside before the diff) and `approve` (a safety rule), as pure
functions over States and Plans."""

from __future__ import annotations

from dataclasses import replace

from fbplan.model import Resource, State
from fbplan.plan.diff import diff
from fbplan.plan.ignore import set_aside
from fbplan.plan.model import Action, Change, Plan
from fbplan.plan.render import render_markdown, render_text
from fbplan.plan.safety import delete_blocker, plan_blockers, stale_approvals
from fbplan.secrets.values import MASK, Sourced
from fbplan.spec.ignore import approvals, ignore_rules


def bucket(name: str, region: str | None, *, live: bool = False) -> Resource:
    attrs = {"bucket": f"b-{name}", "storage_type": "S3", "region": region}
    return Resource("bucket", f"bucket.{name}", name, attrs, id=f"id-{name}" if live else None)


def states(*pairs: tuple[Resource | None, Resource | None]) -> tuple[State, State]:
    desired, live = State("acme"), State("acme")
    for want, have in pairs:
        if want:
            desired.add(want)
        if have:
            live.add(have)
    return desired, live


def test_an_ignored_field_takes_the_live_value_and_is_recorded_live_to_spec() -> None:
    desired, live = states(
        (bucket("media", "us-east-1"), bucket("media", "eu-west-3", live=True)),
        (bucket("logs", "us-east-1"), bucket("logs", "eu-west-3", live=True)),
    )
    rules = ignore_rules({"ignore": {"changes": {"bucket.media": ["region"]}}})
    kept, _, ignored = set_aside(rules, desired, live)
    assert kept.resources["bucket.media"].attrs["region"] == "eu-west-3"
    plan = diff(*set_aside(rules, desired, live)[:2])
    assert [c.address for c in plan.actionable] == ["bucket.logs"]
    ((address, rule, fields),) = [(i.address, i.rule, i.fields) for i in ignored]
    assert (address, rule) == ("bucket.media", "ignore.changes.bucket.media")
    assert [(f.field, f.before, f.after) for f in fields] == [("region", "eu-west-3", "us-east-1")]


def test_a_per_kind_rule_covers_every_resource_of_the_kind_but_not_others() -> None:
    desired, live = states(
        (bucket("media", "us-east-1"), bucket("media", "eu-west-3", live=True)),
        (bucket("new", "us-east-1"), None),
    )
    rules = ignore_rules({"ignore": {"changes": {"buckets": ["region"]}}})
    kept, _, ignored = set_aside(rules, desired, live)
    assert [i.rule for i in ignored] == ["ignore.changes.buckets"]
    assert kept.resources["bucket.new"].attrs["region"] == "us-east-1"  # created as the spec says


def test_the_live_value_of_a_field_the_spec_reads_from_the_environment_is_not_shown() -> None:
    want = bucket("media", None)
    want = Resource(
        want.kind,
        want.address,
        want.name,
        {**want.attrs, "region": Sourced("us-east-1", "${env:REGION}")},
    )
    desired, live = states((want, bucket("media", "eu-west-3", live=True)))
    rules = ignore_rules({"ignore": {"changes": {"buckets": ["region"]}}})
    _, _, (item,) = set_aside(rules, desired, live)
    assert item.fields[0].before == MASK


def test_accepted_unmanaged_objects_and_their_children_leave_the_live_state() -> None:
    desired, live = states(
        (None, bucket("tmp-1", None, live=True)), (None, bucket("keep", None, live=True))
    )
    live.add(Resource("repo", "repo.tmp-r", "tmp-r", {}, id="r"))
    live.add(Resource("repo_api_key", "repo.tmp-r.api_key.k", "k", {}, parent="repo.tmp-r", id="k"))
    rules = ignore_rules({"ignore": {"unmanaged": {"buckets": ["tmp-*"], "repos": ["tmp-?"]}}})
    _, kept, ignored = set_aside(rules, desired, live)
    assert sorted(kept.resources) == ["bucket.keep"]
    assert [i.address for i in ignored] == ["bucket.tmp-1", "repo.tmp-r", "repo.tmp-r.api_key.k"]
    assert ignored[2].rule == "ignore.unmanaged.repos: tmp-?"
    pruned = diff(State("acme"), kept, prune=frozenset({"buckets"}))
    assert [(c.address, c.action) for c in pruned.changes] == [("bucket.keep", Action.DELETE)]


def deleting(*addresses: str, protect: bool = False) -> Plan:
    changes = [Change(a, "bucket", Action.DELETE, protect=protect, live_id="x") for a in addresses]
    return Plan("acme", changes=changes)


def test_approved_deletes_need_no_flag_and_any_other_is_still_refused() -> None:
    plan = deleting("bucket.a", "bucket.b")
    approved = approvals({"approve": ["delete bucket.a", "delete  bucket.b"]})
    assert delete_blocker(plan, allow_delete=False, approved=approved) is None
    blocker = delete_blocker(plan, allow_delete=False, approved=["delete bucket.a"])
    assert blocker is not None and blocker.addresses == ("bucket.b",)
    assert "not approved (delete bucket.b)" in blocker.message
    # the action must match: approving a replace does not approve a delete
    assert delete_blocker(
        plan, allow_delete=False, approved=["replace bucket.a", "delete bucket.b"]
    )


def test_protect_wins_over_an_approval() -> None:
    plan = deleting("bucket.a", protect=True)
    assert [b.rule for b in plan_blockers(plan, State("acme"))] == ["protect"]


def test_an_approval_matching_no_change_is_a_note() -> None:
    notes = stale_approvals(deleting("bucket.a").changes, ["delete bucket.a", "delete bucket.gone"])
    assert notes == [
        "approve: delete bucket.gone matches no change in this plan; remove it from the spec (it "
        "was carried out, or the change it approved is no longer planned)"
    ]


def test_text_and_markdown_give_the_exact_lines_to_add_and_show_what_is_approved() -> None:
    plan = replace(deleting("bucket.a", "bucket.b"), approved=["delete bucket.a"])
    text = render_text(plan)
    assert "Approved in the spec: delete bucket.a" in text
    assert "  approve:\n    - delete bucket.b\n" in text
    markdown = render_markdown(plan)
    assert "> approve:\n>   - delete bucket.b\n> ```" in markdown
    assert "`delete bucket.a`" in markdown
    assert "Needs approval" not in render_markdown(plan, drift=True)
