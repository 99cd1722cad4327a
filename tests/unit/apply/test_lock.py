"""The workspace lock: one holder at a time, a clear message naming the holder, always
released; a dead holder's lock taken over, a live one waited for on request, any other
broken only on request."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fbplan.apply.lock import LockWait, lock_dir, lock_path, workspace_lock
from fbplan.errors import ConfigError, SafetyError


def test_the_lock_file_names_the_holder_and_is_removed_after_the_block(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "acme-prod")
    with workspace_lock("acme-prod", "apply", tmp_path) as holder:
        recorded = json.loads(path.read_text())
        assert recorded["pid"] == os.getpid() == holder.pid
        assert recorded["command"] == "apply" and recorded["host"] == socket.gethostname()
    assert not path.exists()


def test_a_second_holder_fails_fast_with_who_holds_it(tmp_path: Path) -> None:
    with (
        workspace_lock("acme-prod", "apply", tmp_path),
        pytest.raises(SafetyError) as caught,
        workspace_lock("acme-prod", "destroy", tmp_path),
    ):
        pytest.fail("got a held lock")  # pragma: no cover
    message = str(caught.value)
    assert caught.value.exit_code == 3
    holder = f"{getpass.getuser()}@{socket.gethostname()} (pid {os.getpid()}, apply)"
    assert f"the workspace acme-prod is locked by {holder}" in message
    assert "--break-lock" in message and str(lock_path(tmp_path, "acme-prod")) in message


def test_the_lock_is_released_when_the_apply_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), workspace_lock("acme-prod", "apply", tmp_path):
        raise RuntimeError("boom")
    with workspace_lock("acme-prod", "apply", tmp_path):
        pass


def test_other_workspaces_are_not_blocked(tmp_path: Path) -> None:
    with (
        workspace_lock("acme-prod", "apply", tmp_path),
        workspace_lock("acme/dev", "apply", tmp_path),
    ):
        assert lock_path(tmp_path, "acme/dev").parent == tmp_path


def test_of_many_concurrent_attempts_exactly_one_gets_the_lock(tmp_path: Path) -> None:
    start, decided = threading.Barrier(8, timeout=10), threading.Barrier(8, timeout=10)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            with workspace_lock("acme-prod", "apply", tmp_path):
                outcomes.append("held")
                decided.wait()  # hold the lock until every other attempt is decided
        except SafetyError:
            outcomes.append("refused")
            decided.wait()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["held"] + ["refused"] * 7


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def stale_lock(folder: Path, host: str | None = None) -> dict[str, object]:
    holder = {
        "who": "ci",
        "host": host or socket.gethostname(),
        "pid": dead_pid(),
        "since": "2024-01-01T00:00:00+00:00",
        "command": "apply",
    }
    lock_path(folder, "acme-prod").write_text(json.dumps(holder))
    return holder


def test_the_lock_of_a_dead_holder_on_this_host_is_taken_over_with_a_note(tmp_path: Path) -> None:
    dead = stale_lock(tmp_path)
    notes: list[str] = []
    with workspace_lock("acme-prod", "apply", tmp_path, on_note=notes.append) as mine:
        assert json.loads(lock_path(tmp_path, "acme-prod").read_text())["pid"] == mine.pid
    assert notes == [
        f"took over the lock of workspace acme-prod from ci@{socket.gethostname()} "
        f"(pid {dead['pid']}, apply) since 2024-01-01T00:00:00+00:00: that process is no "
        "longer running"
    ]


def test_a_lock_of_another_host_is_broken_only_on_request(tmp_path: Path) -> None:
    stale_lock(tmp_path, host="some-other-runner")
    with (
        pytest.raises(SafetyError, match="locked by ci@some-other-runner"),
        workspace_lock("acme-prod", "apply", tmp_path),
    ):
        pytest.fail("took over a lock whose holder may be alive")  # pragma: no cover
    with workspace_lock("acme-prod", "apply", tmp_path, break_lock=True) as mine:
        assert json.loads(lock_path(tmp_path, "acme-prod").read_text())["pid"] == mine.pid


def test_of_many_runs_finding_one_dead_holders_lock_exactly_one_takes_it(tmp_path: Path) -> None:
    stale_lock(tmp_path)
    start, decided = threading.Barrier(8, timeout=10), threading.Barrier(8, timeout=10)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            with workspace_lock("acme-prod", "apply", tmp_path):
                outcomes.append("held")
                decided.wait()
        except SafetyError:
            outcomes.append("refused")
            decided.wait()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["held"] + ["refused"] * 7


def test_lock_timeout_waits_for_a_live_holder_to_finish(tmp_path: Path) -> None:
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with workspace_lock("acme-prod", "apply", tmp_path):
            holding.set()
            release.wait(timeout=10)

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(timeout=10)
    notes: list[str] = []
    wait = LockWait(timeout=30, poll=0.01, sleep=lambda s: release.set())  # the holder ends
    with workspace_lock("acme-prod", "destroy", tmp_path, wait=wait, on_note=notes.append):
        assert json.loads(lock_path(tmp_path, "acme-prod").read_text())["command"] == "destroy"
    thread.join(timeout=10)
    assert notes and notes[0].startswith("waiting up to 30 s for the lock of acme-prod, held by")


def test_lock_timeout_gives_up_with_the_holder_named(tmp_path: Path) -> None:
    now = [0.0]
    wait = LockWait(
        timeout=5, poll=1, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0]
    )
    with (
        workspace_lock("acme-prod", "apply", tmp_path),
        pytest.raises(SafetyError, match=r"locked by .*, still after waiting 5 s"),
        workspace_lock("acme-prod", "apply", tmp_path, wait=wait),
    ):
        pytest.fail("got a held lock")  # pragma: no cover
    assert now[0] == 5.0


def test_an_unreadable_lock_file_still_blocks(tmp_path: Path) -> None:
    lock_path(tmp_path, "acme-prod").write_text("not json")
    with (
        pytest.raises(SafetyError, match="locked by an unreadable lock file"),
        workspace_lock("acme-prod", "apply", tmp_path),
    ):
        pytest.fail("got a held lock")  # pragma: no cover


def test_fb_lock_dir_chooses_the_shared_lock_folder(tmp_path: Path) -> None:
    assert lock_dir({"FB_LOCK_DIR": str(tmp_path)}) == tmp_path
    assert lock_dir({}) == Path(".fbplan/locks")


def test_a_lock_folder_that_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "locks"
    not_a_folder.write_text("")
    lock = workspace_lock("acme", "apply", not_a_folder / "nested")
    with pytest.raises(ConfigError, match=r"cannot use .* as the lock folder"), lock:
        pass
