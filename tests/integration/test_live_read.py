"""The live read runs its lists in parallel, never more at once than it is allowed, in as
few sequential round trips as the ids it needs allow."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fbplan.backend.live import read_live
from fbplan.kinds.base import DEFAULT_PARALLELISM, READS_PER_STEP, read_parallelism
from fbplan.workflow import ApplyRequest, Connection, PlanRequest, apply_prepared, prepare

REPOS = 10
SPEC = "version: 1\nworkspace: many\nrepos:\n" + "".join(
    f"  r{i}: {{storage_type: S3, mode: NORMAL}}\n" for i in range(REPOS)
)
POLICIES = "policies:\n" + "".join(
    f"  p{i}: {{scope: {'workspace' if i % 2 else f'repo:r{i}'}, risk: LOW, action: log, "
    f"content: Log {i}.}}\n"
    for i in range(REPOS)
)


class InFlight:
    """The backend client, counting the GETs in flight at once. Each GET waits (briefly) for
    more to join it, so that a read allowed more than `limit` at once shows it."""

    def __init__(self, api: Any, limit: int) -> None:
        self.api, self.limit = api, limit
        self.now = self.most = 0
        self.changed = threading.Condition()

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        with self.changed:
            self.now += 1
            self.most = max(self.most, self.now)
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.now > self.limit, timeout=0.2)
        try:
            return self.api.get(path, params=params)
        finally:
            with self.changed:
                self.now -= 1

    def post(self, path: str, *, json: Any = None) -> Any:
        raise AssertionError("a read never writes")

    put = post

    def delete(self, path: str) -> Any:
        raise AssertionError("a read never deletes")


def test_the_live_read_keeps_to_its_parallelism(harness: Any) -> None:
    assert harness.apply(harness.write(SPEC)).ok
    assert READS_PER_STEP < REPOS  # else this test could not see the bound
    probe = InFlight(harness.api(), limit=READS_PER_STEP)
    live = read_live(probe, "many", parallelism=1)
    assert len(live.of_kind("repo")) == REPOS
    assert probe.most == READS_PER_STEP  # policies are listed repo by repo: 10 lists, 8 at a time


def test_by_default_the_live_read_keeps_to_the_default_parallelism(harness: Any) -> None:
    assert harness.apply(harness.write(SPEC)).ok
    probe = InFlight(harness.api(), limit=read_parallelism(DEFAULT_PARALLELISM))
    read_live(probe, "many")
    assert 1 < probe.most <= read_parallelism(DEFAULT_PARALLELISM)


class Rounds:
    """The backend client, numbering each GET's sequential round trip: one more than the
    latest round among the GETs answered before it was sent. Each GET takes a moment (as
    over a network), long enough that GETs sent together overlap even on a busy machine."""

    def __init__(self, api: Any, answers: list[str] | None = None) -> None:
        self.api = api
        self.lock = threading.Lock()
        self.answered = 0  # the latest round answered so far
        self.sent: list[tuple[int, str]] = []
        self.answers = [] if answers is None else answers  # the paths, as answered

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        with self.lock:
            round_trip = self.answered + 1
            self.sent.append((round_trip, path))
        time.sleep(0.25)
        try:
            return self.api.get(path, params=params)
        finally:
            with self.lock:
                self.answered = max(self.answered, round_trip)
                self.answers.append(path)

    def of(self, round_trip: int) -> set[str]:
        return {path for number, path in self.sent if number == round_trip}


def test_a_refresh_takes_three_round_trips(harness: Any) -> None:
    """The profile beside the workspace list, then the lists, then the per-repo policies."""
    spec = harness.write(SPEC + POLICIES)
    assert harness.apply(spec).ok
    rounds = Rounds(harness.api())
    live = read_live(rounds, "many")
    assert len(live.of_kind("policy")) == REPOS
    assert rounds.of(1) == {"/user/profile", "/workspace"}
    assert {"/bucket", "/repo", "/policy"} <= rounds.of(2)
    third = [path for number, path in rounds.sent if number == 3]
    assert third.count("/policy") == REPOS  # every repo's, at once
    assert max(number for number, _ in rounds.sent) == 3


def test_a_plan_reads_the_quota_and_credits_in_the_first_round_trip(
    harness: Any, tmp_path: Path
) -> None:
    spec = harness.write(SPEC + POLICIES)
    assert harness.apply(spec).ok
    rounds = Rounds(harness.api())
    prepared = prepare(PlanRequest(spec), Connection(rounds, None, tmp_path / "fp.json"))  # type: ignore[arg-type]
    assert not prepared.plan.has_changes
    assert rounds.of(1) == {"/user/profile", "/workspace", "/user/quota", "/credits/balance"}
    assert max(number for number, _ in rounds.sent) == 3


def test_recorded_fingerprints_are_hashed_while_the_read_waits_for_its_answers(
    harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hashing a secret (by design slow) is off the refresh's critical path: it starts
    before the live read's last answer is in, and the plan still finds it unchanged."""
    from fbplan.secrets import fingerprints

    monkeypatch.setitem(fingerprints._SCRYPT, "n", 2**4)
    monkeypatch.setenv("WARM_SECRET", "warm-secret-value-0001")
    spec = harness.write(
        SPEC + "buckets:\n  b: {bucket: warm-b, storage_type: S3, region: us-east-1, "
        'key: AKIAWARM, secret: "${env:WARM_SECRET}"}\n'
    )
    connection = Connection(harness.api(), None, tmp_path / "fp.json")
    prepared = prepare(PlanRequest(spec), connection)
    assert apply_prepared(prepared, connection, ApplyRequest()).ok
    events: list[str] = []
    scrypt = fingerprints._scrypt
    monkeypatch.setattr(fingerprints, "_scrypt", lambda *a: events.append("hash") or scrypt(*a))
    rounds = Rounds(harness.api(), events)
    again = prepare(PlanRequest(spec), Connection(rounds, None, tmp_path / "fp.json"))  # type: ignore[arg-type]
    assert not again.plan.has_changes
    assert not [note for note in again.plan.notes if "untracked" in note]
    assert events.count("hash") == 1
    assert events.index("hash") < len(events) - 1  # answers came in after it started
