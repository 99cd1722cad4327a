"""The diff as a pure function: desired and live States in, a Plan out."""

from __future__ import annotations

from fbplan.kinds.base import LiveContext
from fbplan.kinds.repo import RepoKind
from fbplan.model import Resource, State
from fbplan.plan.diff import diff
from fbplan.plan.model import Action
from fbplan.secrets.values import MASK, Secret
from fbplan.spec.build import build_desired

SPEC = {
    "version": 1,
    "workspace": "acme",
    "buckets": {"media": {"bucket": "acme-media", "storage_type": "S3", "region": "us-east-1"}},
    "repos": {
        "app": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [{"bucket": "media", "folder": "media", "master": True}],
            "api_keys": {"app-rw": {"access": "WRITE"}},
        }
    },
}


def live_from(desired: State) -> State:
    """A live State that matches `desired` exactly, with ids, as after an apply."""
    live = State(desired.workspace)
    for resource in desired:
        live.add(
            Resource(
                resource.kind,
                resource.address,
                resource.name,
                attrs=dict(resource.attrs),
                refs=resource.refs,
                parent=resource.parent,
                id=f"id-{resource.address}",
            )
        )
    return live


def replace_attrs(state: State, address: str, **changes: object) -> None:
    old = state.resources[address]
    state.resources[address] = Resource(
        old.kind,
        old.address,
        old.name,
        {**old.attrs, **changes},
        old.secrets,
        old.refs,
        old.parent,
        old.id,
        old.protect,
    )


def test_empty_live_plans_every_resource_as_create_in_dependency_order() -> None:
    desired = build_desired(SPEC)
    plan = diff(desired, State("acme"))
    assert [(c.address, c.action) for c in plan.changes] == [
        ("workspace", Action.CREATE),
        ("bucket.media", Action.CREATE),
        ("repo.app", Action.CREATE),
        ("repo.app.api_key.app-rw", Action.CREATE),
    ]
    assert plan.summary() == "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete."


def test_matching_live_state_gives_an_empty_plan() -> None:
    desired = build_desired(SPEC)
    plan = diff(desired, live_from(desired))
    assert not plan.has_changes
    assert plan.summary().startswith("No changes.")


def test_changed_mode_is_exactly_one_in_place_update() -> None:
    desired = build_desired(SPEC)
    live = live_from(desired)
    replace_attrs(live, "repo.app", mode="MIRROR")
    plan = diff(desired, live)
    assert [(c.address, c.action) for c in plan.actionable] == [("repo.app", Action.UPDATE)]
    (field,) = plan.actionable[0].fields
    assert (field.field, field.before, field.after) == ("mode", "MIRROR", "NORMAL")


def test_replace_only_field_forces_replace_with_reason() -> None:
    desired = build_desired(SPEC)
    live = live_from(desired)
    replace_attrs(live, "bucket.media", bucket="old-name")
    plan = diff(desired, live)
    change = plan.change("bucket.media")
    assert change and change.action is Action.REPLACE
    assert "bucket cannot change in place" in change.reasons


def test_replace_cascades_to_attached_repo_and_its_keys_with_new_credentials() -> None:
    desired = build_desired(SPEC)
    live = live_from(desired)
    replace_attrs(live, "bucket.media", storage_type="GCS")
    plan = diff(desired, live)
    repo, key = plan.change("repo.app"), plan.change("repo.app.api_key.app-rw")
    assert repo and repo.action is Action.REPLACE
    assert key and key.action is Action.REPLACE and key.new_credentials


def test_folder_change_of_an_attached_bucket_replaces_the_repo() -> None:
    desired = build_desired(SPEC)
    live = live_from(desired)
    buckets = [{"bucket": "media", "folder": "old", "master": True}]
    replace_attrs(live, "repo.app", buckets=buckets)
    change = diff(desired, live).change("repo.app")
    assert change and change.action is Action.REPLACE


def test_unmanaged_without_prune_and_delete_with_prune() -> None:
    desired = build_desired(SPEC)
    live = live_from(desired)
    live.add(Resource("bucket", "bucket.old", "old", {"bucket": "x"}, refs=("workspace",), id="b9"))
    plan = diff(desired, live)
    assert [u.address for u in plan.unmanaged] == ["bucket.old"]
    assert not plan.has_changes
    pruned = diff(desired, live, prune=frozenset({"buckets"}))
    change = pruned.change("bucket.old")
    assert change and change.action is Action.DELETE and not pruned.unmanaged


def test_secret_changes_come_from_fingerprints_and_never_show_values() -> None:
    spec = {
        **SPEC,
        "buckets": {
            "media": {
                **SPEC["buckets"]["media"],
                "key": "AKIA",
                "secret": Secret("s3cr3t-value", "env:X"),
            }
        },
    }
    desired = build_desired(spec)
    live = live_from(desired)
    unchanged = diff(desired, live, secret_status=lambda *_: "unchanged")
    assert not unchanged.has_changes and not unchanged.notes
    changed = diff(desired, live, secret_status=lambda *_: "changed")
    change = changed.change("bucket.media")
    assert change and change.action is Action.UPDATE
    assert [(f.field, f.before, f.after, f.sensitive) for f in change.fields] == [
        ("secret", MASK, MASK, True)
    ]
    untracked = diff(desired, live, secret_status=lambda *_: "untracked")
    assert not untracked.has_changes
    assert "bucket.media: secret is untracked" in untracked.notes[0]
    assert "s3cr3t-value" not in repr(changed) + repr(untracked)


def test_rotate_replaces_a_key_with_new_credentials() -> None:
    desired = build_desired(SPEC)
    plan = diff(desired, live_from(desired), rotate=frozenset({"repo.app.api_key.app-rw"}))
    change = plan.change("repo.app.api_key.app-rw")
    assert change and change.action is Action.REPLACE and change.new_credentials


def test_live_list_order_and_legacy_spellings_normalize_to_the_spec_form() -> None:
    spec = {**SPEC, "buckets": {**SPEC["buckets"], "logs": {"bucket": "l", "storage_type": "BLOB"}}}
    spec["repos"] = {
        "app": {
            **SPEC["repos"]["app"],
            "mode": "MIRROR",
            "buckets": [
                {"bucket": "media", "folder": "media", "master": True},
                {"bucket": "logs", "folder": "logs"},
            ],
        }
    }
    desired = build_desired(spec)
    ctx = LiveContext(api=None, org_id="o", workspace_id="w")  # type: ignore[arg-type]
    ctx.addresses = {("bucket", "b-media"): "bucket.media", ("bucket", "b-logs"): "bucket.logs"}
    api_repo = {
        "id": "r1",
        "name": "app",
        "storageType": "AZURE",
        "mode": "BACKUP",
        "units": [  # legacy spelling, reversed order
            {"unitId": "b-logs", "folder": "logs", "master": False},
            {"unit": {"id": "b-media"}, "folder": "media", "master": True},
        ],
    }
    spec["repos"]["app"]["storage_type"] = "BLOB"
    desired = build_desired(spec)
    live_repo = RepoKind().from_api(ctx, api_repo)
    assert dict(live_repo.attrs) == dict(desired.resources["repo.app"].attrs)


def test_detaching_a_pruned_bucket_updates_the_repo_instead_of_replacing_it() -> None:
    two = {**SPEC, "buckets": {**SPEC["buckets"], "old": {"bucket": "o", "storage_type": "S3"}}}
    two["repos"] = {
        "app": {
            **SPEC["repos"]["app"],
            "buckets": [*SPEC["repos"]["app"]["buckets"], {"bucket": "old", "folder": "old"}],
        }
    }
    live = live_from(build_desired(two))
    plan = diff(build_desired(SPEC), live, prune=frozenset({"buckets"}))
    assert dict((c.address, c.action) for c in plan.actionable) == {
        "bucket.old": Action.DELETE,
        "repo.app": Action.UPDATE,
    }


def test_unmanaged_children_of_a_replaced_repo_are_shown_going_with_it() -> None:
    desired = build_desired(SPEC)
    live = live_from(desired)
    replace_attrs(live, "repo.app", storage_type="GCS")
    live.add(
        Resource(
            "repo_api_key",
            "repo.app.api_key.extra",
            "extra",
            {"access": "READ"},
            refs=("repo.app",),
            parent="repo.app",
            id="k9",
        )
    )
    plan = diff(desired, live)
    extra = plan.change("repo.app.api_key.extra")
    assert extra and extra.action is Action.DELETE
    assert "goes with repo.app, which is replaced" in extra.reasons[0]
    assert plan.unmanaged == ()
