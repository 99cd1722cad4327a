"""A lock per workspace, so that two applies of one workspace never both write.

The lock is a file created atomically (O_EXCL) in the lock folder (`.fbplan/locks` by
default, `FB_LOCK_DIR` to share one between runners on a shared filesystem). It records
who holds it and since when; a second apply fails fast (exit 3) and says so, or waits
for it up to `--lock-timeout`. A lock whose holder is provably dead (this host, and its
process is gone) is taken over with a note; any other is broken only on request
(`--break-lock`): a holder on another host may be alive.

The lock file is written whole, then linked into place (`os.link` fails if the name
exists), so a run killed while taking it never leaves an empty, unreadable lock. Taking
over a dead holder's lock happens under an `flock` on a side file, so of two runs that
find the same stale lock only one removes it (the other then finds the new, live holder).
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fbplan.errors import ConfigError, SafetyError


@dataclass(frozen=True)
class Holder:
    who: str
    host: str
    pid: int
    since: str
    command: str

    @property
    def dead(self) -> bool:
        """Provably gone: it ran on this host and its process no longer exists."""
        return self.host == socket.gethostname() and not _pid_alive(self.pid)

    def describe(self) -> str:
        return f"{self.who}@{self.host} (pid {self.pid}, {self.command}) since {self.since}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("FB_LOCK_DIR") or ".fbplan/locks")


def lock_path(directory: Path, workspace: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", workspace)
    return directory / f"{safe}.lock"


def read_holder(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


@dataclass(frozen=True)
class LockWait:
    """How long to wait for a live holder (0: fail at once), and how."""

    timeout: float = 0.0
    poll: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@contextmanager
def workspace_lock(
    workspace: str,
    command: str,
    directory: Path | None = None,
    *,
    break_lock: bool = False,
    wait: LockWait | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Iterator[Holder]:
    """Hold the workspace's lock for the block; `on_note` hears of a dead holder's lock
    taken over."""
    path = lock_path(directory or lock_dir(), workspace)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot use {path.parent} as the lock folder (FB_LOCK_DIR): {error.strerror}"
        ) from None
    if break_lock:
        path.unlink(missing_ok=True)
    holder = Holder(
        who=getpass.getuser(),
        host=socket.gethostname(),
        pid=os.getpid(),
        since=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
    )
    _acquire(path, workspace, holder, wait or LockWait(), on_note or (lambda _: None))
    try:
        yield holder
    finally:
        path.unlink(missing_ok=True)


def _acquire(
    path: Path, workspace: str, holder: Holder, wait: LockWait, on_note: Callable[[str], None]
) -> None:
    deadline, announced = wait.clock() + wait.timeout, False
    while not _create(path, holder):
        current = read_holder(path)
        if current is not None and current.dead and _take_over(path, current):
            on_note(
                f"took over the lock of workspace {workspace} from {current.describe()}: that "
                "process is no longer running"
            )
            continue
        remaining = deadline - wait.clock()
        if remaining <= 0:
            raise SafetyError(_held_message(path, workspace, current, wait.timeout))
        if not announced:
            who = current.describe() if current else "an unreadable lock file"
            on_note(f"waiting up to {wait.timeout:g} s for the lock of {workspace}, held by {who}")
            announced = True
        wait.sleep(min(wait.poll, remaining))


def _held_message(path: Path, workspace: str, current: Holder | None, timeout: float) -> str:
    who = current.describe() if current else "an unreadable lock file"
    waited = f", still after waiting {timeout:g} s" if timeout else ""
    return (
        f"the workspace {workspace} is locked by {who} ({path}){waited}; wait for that run to "
        "finish (--lock-timeout DURATION waits for it), or pass --break-lock if it is stale"
    )


def _create(path: Path, holder: Holder) -> bool:
    """Put a lock file naming `holder` at `path` if there is none; False if there is."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(holder.__dict__, handle)
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)
    return True


def _take_over(path: Path, stale: Holder) -> bool:
    """Remove the lock of a dead holder, unless another run replaced it meanwhile."""
    guard = path.with_name(path.name + ".takeover")
    with open(guard, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # held for a read and an unlink: microseconds
        try:
            if read_holder(path) != stale:
                return False
            path.unlink(missing_ok=True)
            return True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
