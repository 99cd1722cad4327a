"""The executor over a small recording fake of the backend: failures skip only their
dependents, independent steps run at the same time, ambiguous creates never duplicate and
never lose a key's secret, and QUOTA_EXCEEDED pauses within a bound."""

from __future__ import annotations

import itertools
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fbplan.apply.executor import ApplyReport, ExecuteOptions, execute
from fbplan.errors import ApiError, TransportError
from fbplan.kinds.base import ApplyContext
from fbplan.model import Resource, State
from fbplan.plan.diff import diff
from fbplan.secrets.sinks import JsonSink
from fbplan.spec.build import build_desired

Hook = Callable[[dict[str, Any]], None]

SPEC: dict[str, Any] = {
    "version": 1,
    "workspace": "unit",
    "buckets": {
        "a": {"bucket": "unit-a", "storage_type": "S3", "key": "K"},
        "b": {"bucket": "unit-b", "storage_type": "S3", "key": "K"},
    },
    "repos": {
        "r": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [{"bucket": "a", "folder": "a"}],
            "api_keys": {"k": {"access": "WRITE"}},
        }
    },
    "policies": {"p": {"scope": "workspace", "risk": "LOW", "action": "log", "content": "x"}},
}
RESPONSE_ID = {"/bucket": "bucketId", "/repo": "repoId"}


def api_error(status: int, code: str | None = None, *, ambiguous: bool = False) -> ApiError:
    return ApiError("POST", "/x", status, code, "injected", ambiguous=ambiguous)


class FakeApi:
    """Records calls; a create stores an object that list calls then return. `script` maps
    (method, path with ids as {id}, name) to what the next such calls do: "ok", "reject" (400),
    "lost" (an ambiguous failure before storing), "commit_lost" (stored, then an ambiguous
    failure), "commit_timeout" (stored, then no answer) or "quota" (403 QUOTA_EXCEEDED).
    `hook` runs at the start of every create."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.objects: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.script: dict[tuple[str, str, str], list[str]] = {}
        self.hook: Hook | None = None
        self.issued: dict[str, str] = {}  # key id -> the secret shown once
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        self.calls.append(("GET", path, None))
        items = list(self.objects[path])
        if path in ("/bucket", "/repo"):
            return {path.strip("/") + "s": items}
        return {"keys": items}  # /repo/{id}/apikey

    def post(self, path: str, *, json: Any = None) -> Any:
        name = json.get("name")
        self.calls.append(("POST", path, name))
        if self.hook:
            self.hook(json)
        with self._lock:
            queue = self.script.get(("POST", re.sub(r"id-\d+", "{id}", path), name)) or ["ok"]
            behaviour = queue.pop(0) if len(queue) > 1 else queue[0]
            match behaviour:
                case "reject":
                    raise api_error(400)
                case "lost":
                    raise api_error(500, ambiguous=True)
                case "quota":
                    raise api_error(403, "QUOTA_EXCEEDED")
            number = next(self._ids)
            stored = {"id": f"id-{number}", **json}
            answer: dict[str, Any] = {RESPONSE_ID.get(path, "id"): stored["id"]}
            if path.endswith("/apikey"):
                stored["key"] = answer["key"] = f"KEY{number}"
                answer["secret"] = self.issued[stored["id"]] = f"secret-{number}"
            if path == "/policy":
                answer = {"policy": {"id": stored["id"]}}
            self.objects[path].append(stored)
            if behaviour == "commit_lost":
                raise api_error(500, ambiguous=True)
            if behaviour == "commit_timeout":
                raise TransportError("POST", path, "timed out", ambiguous=True)
            return answer

    def put(self, path: str, *, json: Any = None) -> Any:
        self.calls.append(("PUT", path, None))
        return {}

    def delete(self, path: str) -> Any:
        self.calls.append(("DELETE", path, None))
        collection, object_id = path.rsplit("/", 1)
        self.objects[collection] = [o for o in self.objects[collection] if o["id"] != object_id]
        return {}

    def posts(self, path: str) -> list[str | None]:
        return [name for method, p, name in self.calls if method == "POST" and p == path]


def live_workspace() -> State:
    live = State("unit", org_id="org-1")
    live.add(Resource("workspace", "workspace", "unit", {"name": "unit"}, id="ws-1"))
    return live


def run(
    api: FakeApi, tmp_path: Path, spec: Mapping[str, Any] = SPEC, **options: Any
) -> tuple[ApplyReport, ApplyContext]:
    desired, live = build_desired(spec), live_workspace()
    ctx = ApplyContext(api, live.org_id, live.ids())
    options.setdefault("sink", JsonSink(tmp_path / "secrets.json"))
    report = execute(diff(desired, live), desired, live, ctx, ExecuteOptions(**options))
    return report, ctx


def statuses(report: ApplyReport) -> dict[str, str]:
    return {f"{r.step.op} {r.step.address}": r.status for r in report.results}


def test_a_failure_skips_its_dependents_and_lets_independent_work_finish(
    tmp_path: Path,
) -> None:
    api = FakeApi()
    api.script[("POST", "/bucket", "a")] = ["reject"]
    report, _ = run(api, tmp_path)
    assert statuses(report) == {
        "create bucket.a": "failed",
        "create bucket.b": "done",
        "create policy.p": "done",
        "create repo.r": "skipped",
        "create repo.r.api_key.k": "skipped",
    }
    assert report.summary() == "Apply: 2 done, 1 failed, 2 skipped."
    assert not report.ok
    skipped = {r.step.address: r.message for r in report.of("skipped")}
    assert skipped["repo.r.api_key.k"] == "skipped because create bucket.a did not succeed"
    assert api.posts("/repo") == []


def test_independent_steps_run_at_the_same_time(tmp_path: Path) -> None:
    api = FakeApi()
    both_buckets = threading.Barrier(2, timeout=5)

    def meet(body: dict[str, Any]) -> None:
        if body.get("bucket", "").startswith("unit-"):
            both_buckets.wait()  # breaks (and fails the step) unless a and b overlap

    api.hook = meet
    report, _ = run(api, tmp_path, parallelism=4)
    assert report.ok, [r.message for r in report.results]


def test_an_ambiguous_create_that_was_committed_is_adopted_not_duplicated(
    tmp_path: Path,
) -> None:
    api = FakeApi()
    api.script[("POST", "/bucket", "a")] = ["commit_lost", "ok"]
    report, ctx = run(api, tmp_path)
    assert report.ok, [r.message for r in report.results]
    assert api.posts("/bucket").count("a") == 1
    (bucket_a,) = [b for b in api.objects["/bucket"] if b["name"] == "a"]
    assert ctx.ids["bucket.a"] == bucket_a["id"]
    (repo,) = api.objects["/repo"]
    assert repo["repoBuckets"][0]["bucketId"] == bucket_a["id"]


def test_a_create_that_timed_out_after_it_was_committed_is_adopted_not_duplicated(
    tmp_path: Path,
) -> None:
    """No answer is not an answered error (TransportError is no ApiError), but it is just as
    ambiguous: the object is looked up by name before any retry."""
    api = FakeApi()
    api.script[("POST", "/bucket", "a")] = ["commit_timeout", "ok"]
    report, _ = run(api, tmp_path)
    assert report.ok, [r.message for r in report.results]
    assert api.posts("/bucket").count("a") == 1
    assert [b["name"] for b in api.objects["/bucket"]].count("a") == 1


def test_an_ambiguous_create_that_did_not_happen_is_sent_again(tmp_path: Path) -> None:
    api = FakeApi()
    api.script[("POST", "/bucket", "b")] = ["lost", "ok"]
    report, _ = run(api, tmp_path)
    assert report.ok
    assert api.posts("/bucket").count("b") == 2
    assert [b["name"] for b in api.objects["/bucket"]].count("b") == 1


def test_an_ambiguous_key_create_deletes_the_found_key_and_makes_a_new_one(
    tmp_path: Path,
) -> None:
    api = FakeApi()
    api.script[("POST", "/repo/{id}/apikey", "k")] = ["commit_lost", "ok"]
    report, ctx = run(api, tmp_path)
    assert report.ok, [r.message for r in report.results]
    path = f"/repo/{ctx.ids['repo.r']}/apikey"
    (key,) = api.objects[path]
    assert api.posts(path) == ["k", "k"]
    (deleted,) = [p for method, p, _ in api.calls if method == "DELETE"]
    assert deleted.startswith(f"{path}/") and deleted != f"{path}/{key['id']}"
    sink = JsonSink(tmp_path / "secrets.json").read("repo.r.api_key.k")
    assert sink == {"key": key["key"], "secret": api.issued[key["id"]]}


def test_quota_exceeded_pauses_then_fails_with_a_clear_message(tmp_path: Path) -> None:
    api = FakeApi()
    api.script[("POST", "/bucket", "b")] = ["quota"]
    pauses: list[float] = []
    report, _ = run(api, tmp_path, quota_waits=(1.0, 2.0, 4.0), sleep=pauses.append)
    assert pauses == [1.0, 2.0, 4.0]
    (failed,) = report.of("failed")
    assert failed.step.address == "bucket.b"
    assert "quota exceeded (HTTP 403) and still exceeded after waiting 7 s" in failed.message
    assert "raise the quota" in failed.message
    assert statuses(report)["create repo.r"] == "done"  # independent of bucket.b


def test_quota_exceeded_that_clears_within_the_bound_succeeds(tmp_path: Path) -> None:
    api = FakeApi()
    api.script[("POST", "/bucket", "b")] = ["quota", "quota", "ok"]
    pauses: list[float] = []
    report, _ = run(api, tmp_path, quota_waits=(1.0, 2.0, 4.0), sleep=pauses.append)
    assert report.ok and pauses == [1.0, 2.0]


def test_a_sink_failure_fails_the_key_step_naming_its_id_and_the_rotation(
    tmp_path: Path,
) -> None:
    class BrokenSink:
        description = "broken sink"

        def write(self, address: str, values: Mapping[str, str]) -> None:
            raise OSError("read-only file system")

        def read(self, address: str) -> dict[str, str] | None:
            return None

    api = FakeApi()
    report, ctx = run(api, tmp_path, sink=BrokenSink())
    (failed,) = report.of("failed")
    key_id = ctx.ids["repo.r.api_key.k"]
    assert failed.step.address == "repo.r.api_key.k"
    assert f"(id {key_id})" in failed.message
    assert "--rotate repo.r.api_key.k" in failed.message
    assert "secret-" not in failed.message


def test_a_key_is_not_created_without_a_sink(tmp_path: Path) -> None:
    api = FakeApi()
    report, _ = run(api, tmp_path, sink=None)
    (failed,) = report.of("failed")
    assert failed.step.address == "repo.r.api_key.k" and "no secret sink" in failed.message
    assert [p for m, p, _ in api.calls if m == "POST" and p.endswith("/apikey")] == []


def test_an_unexpected_answer_fails_its_step_and_lets_the_others_finish(tmp_path: Path) -> None:
    api = FakeApi()

    def odd_answer(body: Mapping[str, Any]) -> None:
        if body.get("name") == "b":
            raise KeyError("bucketId")  # as a 200 without the field would

    api.hook = odd_answer
    report, _ = run(api, tmp_path)
    failed = [r for r in report.results if r.status == "failed"]
    assert [str(r.step) for r in failed] == ["create bucket.b"]
    assert failed[0].message == "unexpected KeyError: 'bucketId'"
    assert statuses(report)["create policy.p"] == "done"


def test_a_delete_answered_404_counts_as_done(tmp_path: Path) -> None:
    desired = State("unit", org_id="org-1")
    desired.add(Resource("workspace", "workspace", "unit", {"name": "unit"}))
    live = live_workspace()
    live.add(
        Resource("bucket", "bucket.gone", "gone", {"bucket": "g"}, refs=("workspace",), id="b-404")
    )

    class GoneApi(FakeApi):
        def delete(self, path: str) -> Any:
            raise ApiError("DELETE", path, 404, None, "Bucket not found")

    api = GoneApi()
    ctx = ApplyContext(api, live.org_id, live.ids())
    plan = diff(desired, live, prune=frozenset({"buckets"}))
    report = execute(plan, desired, live, ctx, ExecuteOptions())
    assert statuses(report) == {"delete bucket.gone": "done"}


def test_once_stopped_no_step_starts_and_the_running_one_finishes(tmp_path: Path) -> None:
    """Ctrl-C while bucket.a is being created, with b and p queued in the pool behind it:
    a finishes, nothing else starts, and the report says what was not started."""
    api, stop = FakeApi(), threading.Event()
    api.hook = lambda body: stop.set() if body.get("bucket") == "unit-a" else None
    report, _ = run(api, tmp_path, parallelism=1, stop=stop)
    assert statuses(report) == {"create bucket.a": "done"}
    assert [str(step) for step in report.not_started] == [
        "create bucket.b",
        "create policy.p",
        "create repo.r",
        "create repo.r.api_key.k",
    ]
    assert report.summary() == "Apply: 1 done, 0 failed, 0 skipped, 4 not started."
    assert not report.ok and api.posts("/bucket") == ["a"] and api.posts("/policy") == []
