"""Properties of plan and apply, on generated specs against the emulator:

- after apply, a new plan is empty;
- from any applied spec, applying any other spec (authoritative, deletes allowed) converges;
- apply under injected "commit then fail" faults (on creates, and on every write when moving
  between specs) converges, with no duplicate objects and no lost secret.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbplan.workflow import ApplyRequest, apply_prepared

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NAMES = st.sampled_from(["alpha", "beta", "gamma", "delta"])


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A workspace with a provider key, 1-3 buckets, 0-3 NORMAL repos and their keys, and
    maybe policies at workspace and repo scope."""
    bucket_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    buckets = {
        name: {
            "bucket": f"prop-{name}-{draw(st.sampled_from(['a', 'b']))}",
            "storage_type": draw(st.sampled_from(["S3", "GCS", "BLOB"])),
            "region": draw(st.sampled_from(["us-east-1", "eu-central-1"])),
            "provider_key": "cloud",
        }
        for name in bucket_names
    }
    repos = {}
    for name in draw(st.lists(NAMES, max_size=3, unique=True)):
        attached = draw(st.lists(st.sampled_from(bucket_names), min_size=1, unique=True))
        keys = draw(
            st.dictionaries(st.sampled_from(["rw", "ro"]), st.sampled_from(["READ", "WRITE"]))
        )
        repos[f"r-{name}"] = {
            "storage_type": draw(st.sampled_from(["S3", "GCS"])),
            "mode": "NORMAL",
            "buckets": [{"bucket": b, "folder": f"r-{name}-{b}"} for b in attached],
            "api_keys": {key: {"access": access} for key, access in keys.items()},
        }
    policies = {}
    if draw(st.booleans()):
        policies["ws-log"] = {"scope": "workspace", "risk": "LOW", "action": "log", "content": "x"}
    for name in draw(st.lists(st.sampled_from(sorted(repos) or ["none"]), max_size=2, unique=True)):
        if name in repos:
            policies[f"p-{name}"] = {
                "scope": f"repo:{name}",
                "risk": "HIGH",
                "action": "block",
                "content": "y",
            }
    return {
        "version": 1,
        "workspace": "props",
        "policies": policies,
        "prune": True,
        "provider_keys": {
            "cloud": {"provider": "AWS", "key": "AKIAPROP", "secret": "${env:PROP_SECRET}"}
        },
        "buckets": buckets,
        "repos": repos,
        "secrets": {"sink": {"type": "json", "path": "secrets.json"}},
    }


def fresh(harness: Any, monkeypatch: Any, spec: dict[str, Any]) -> Any:
    harness.api().post("/_emulator/reset")
    (harness.root / "secrets.json").unlink(missing_ok=True)
    (harness.root / "fingerprints.json").unlink(missing_ok=True)
    monkeypatch.setenv("PROP_SECRET", "property-provider-secret")
    return write(harness, spec)


def write(harness: Any, spec: dict[str, Any]) -> Any:
    return harness.write(yaml.safe_dump(spec, sort_keys=False))


def apply(harness: Any, path: Any) -> Any:
    prepared = harness.prepare(path, force=True)  # generated specs may delete most of a kind
    return apply_prepared(prepared, harness.connection, ApplyRequest(allow_delete=True))


@SETTINGS
@given(spec=specs())
def test_after_apply_a_new_plan_is_empty(harness, monkeypatch, fast_fingerprints, spec):
    path = fresh(harness, monkeypatch, spec)
    assert apply(harness, path).ok
    plan = harness.plan(path)
    assert not plan.has_changes, [(c.address, c.action, c.fields) for c in plan.actionable]
    assert plan.unmanaged == ()


@SETTINGS
@given(first=specs(), second=specs())
def test_any_spec_converges_from_any_other(harness, monkeypatch, fast_fingerprints, first, second):
    assert apply(harness, fresh(harness, monkeypatch, first)).ok
    path = write(harness, second)
    report = apply(harness, path)
    assert report.ok, [(str(r.step), r.message) for r in report.results if r.status != "done"]
    assert not harness.plan(path).has_changes


@SETTINGS
@given(spec=specs(), seed=st.integers(0, 10_000))
def test_apply_under_commit_then_fail_converges_without_duplicates_or_lost_secrets(
    harness, monkeypatch, fast_fingerprints, spec, seed
):
    path = fresh(harness, monkeypatch, spec)
    rules = [
        {"action": "commit_then_fail", "method": "POST", "path": "/*", "probability": 0.4},
        {"action": "error", "status": 503, "method": "GET", "path": "/*", "probability": 0.1},
    ]
    harness.api().put("/_emulator/faults", json={"rules": rules, "seed": seed})
    for _attempt in range(6):  # a partial apply converges when run again
        if apply(harness, path).ok:
            break
    harness.api().delete("/_emulator/faults")
    assert not harness.plan(path).has_changes
    assert_no_duplicates(harness, spec)
    assert_every_key_secret_in_the_sink_works(harness)


def assert_no_duplicates(harness: Any, spec: dict[str, Any]) -> None:
    workspaces = [w for w in harness.api().get("/workspace")["workspaces"] if w["name"] == "props"]
    assert len(workspaces) == 1
    params = {"workspaceId": workspaces[0]["id"]}
    buckets = [b["name"] for b in harness.api().get("/bucket", params=params)["buckets"]]
    org = harness.api().get("/user/profile")["data"]["orgId"]
    policies = [
        p["name"]
        for scope in [
            {},
            *({"repoId": r["id"]} for r in harness.api().get("/repo", params=params)["repos"]),
        ]
        for p in harness.api().get("/policy", params={"orgId": org, **params, **scope})["policies"]
    ]
    assert sorted(policies) == sorted(spec["policies"])
    repos = harness.api().get("/repo", params=params)["repos"]
    assert sorted(buckets) == sorted(spec["buckets"])
    assert sorted(r["name"] for r in repos) == sorted(spec["repos"])
    for repo in repos:
        names = [k["name"] for k in repo["apiKeys"]]
        assert sorted(names) == sorted(spec["repos"][repo["name"]]["api_keys"])


def assert_every_key_secret_in_the_sink_works(harness: Any) -> None:
    sink = harness.root / "secrets.json"
    entries = json.loads(sink.read_text()) if sink.exists() else {}
    for address, values in entries.items():
        live = harness.store.find_repo_api_key_by_key(values["key"])
        if live is not None:  # entries of keys deleted since are stale, not lost
            assert live["secret"] == values["secret"], address
    keys = [
        (repo["name"], key["name"], key["key"])
        for repo in harness.api().get("/repo")["repos"]
        for key in repo["apiKeys"]
    ]
    for repo, name, key_id in keys:
        entry = entries.get(f"repo.{repo}.api_key.{name}")
        assert entry and entry["key"] == key_id, f"secret of repo.{repo}.api_key.{name} lost"


@SETTINGS
@given(first=specs(), second=specs(), seed=st.integers(0, 10_000))
def test_moving_between_specs_under_faults_on_every_write_converges(
    harness, monkeypatch, fast_fingerprints, first, second, seed
):
    assert apply(harness, fresh(harness, monkeypatch, first)).ok
    path = write(harness, second)
    rules = [
        {"action": "commit_then_fail", "method": method, "path": "/*", "probability": 0.3}
        for method in ("POST", "PUT", "DELETE")
    ]
    rules.append(
        {"action": "error", "status": 503, "method": "GET", "path": "/*", "probability": 0.1}
    )
    harness.api().put("/_emulator/faults", json={"rules": rules, "seed": seed})
    for _attempt in range(6):
        if apply(harness, path).ok:
            break
    harness.api().delete("/_emulator/faults")
    assert not harness.plan(path).has_changes
    assert_no_duplicates(harness, second)
    assert_every_key_secret_in_the_sink_works(harness)
