"""The live read runs its lists in parallel, never more at once than it is allowed."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fbplan.backend.live import read_live
from fbplan.kinds.base import DEFAULT_PARALLELISM, READS_PER_STEP, read_parallelism

REPOS = 10
SPEC = "version: 1\nworkspace: many\nrepos:\n" + "".join(
    f"  r{i}: {{storage_type: S3, mode: NORMAL}}\n" for i in range(REPOS)
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
