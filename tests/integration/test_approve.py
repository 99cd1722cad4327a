"""`approve:` in the spec: apply carries out exactly the approved deletes and replaces
without --allow-delete, refuses any other, and protect still wins."""

from __future__ import annotations

from typing import Any

import pytest

from fbplan.errors import SafetyError
from fbplan.workflow import ApplyRequest, apply_prepared

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

HEAD = """\
version: 1
workspace: approvals
prune: {buckets: true}
buckets:
"""
BUCKET = (
    "  {name}: {{bucket: appr-{name}, storage_type: {type}, region: us-east-1, key: AKIAAPPR, "
    'secret: "${{env:APPR_SECRET}}"{extra}}}\n'
)


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPR_SECRET", "approvals-bucket-secret-0042")


def spec(
    *buckets: str, kinds: dict[str, str] | None = None, tail: str = "", extra: str = ""
) -> str:
    kinds = kinds or {}
    lines = "".join(BUCKET.format(name=b, type=kinds.get(b, "S3"), extra=extra) for b in buckets)
    return HEAD + lines + tail


def apply(harness: Any, path: Any) -> Any:
    prepared = harness.prepare(path)
    return apply_prepared(prepared, harness.connection, ApplyRequest())


def names(harness: Any) -> set[str]:
    api = harness.api()
    workspace = next(
        w["id"] for w in api.get("/workspace")["workspaces"] if w["name"] == "approvals"
    )
    return {b["name"] for b in api.get("/bucket", params={"workspaceId": workspace})["buckets"]}


def test_an_approved_delete_and_replace_are_carried_out_without_allow_delete(harness: Any) -> None:
    path = harness.write(spec("a", "b", "c"))
    assert apply(harness, path).ok
    approve = "approve:\n  - delete bucket.b\n  - replace bucket.c\n"
    harness.write(spec("a", "c", kinds={"c": "GCS"}, tail=approve))
    report = apply(harness, path)
    assert report.ok
    assert names(harness) == {"a", "c"}
    assert not harness.plan(path).has_changes


def test_a_destructive_change_not_approved_stops_apply_before_any_change(harness: Any) -> None:
    path = harness.write(spec("a", "b", "c"))
    assert apply(harness, path).ok
    harness.write(spec("a", kinds={"a": "GCS"}, tail="approve:\n  - delete bucket.b\n"))
    with pytest.raises(SafetyError, match=r"not approved \(replace bucket.a, delete bucket.c\)"):
        apply(harness, path)
    assert names(harness) == {"a", "b", "c"}


def test_protect_wins_over_an_approval(harness: Any) -> None:
    path = harness.write(spec("a", extra=", protect: true"))
    assert apply(harness, path).ok
    harness.write(
        spec("a", kinds={"a": "GCS"}, extra=", protect: true", tail="approve: [replace bucket.a]\n")
    )
    with pytest.raises(SafetyError, match="protect"):
        apply(harness, path)
