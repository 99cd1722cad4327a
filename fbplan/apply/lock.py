"""A lock per workspace, so that two applies of one workspace never both write.

The lock is a file created atomically (O_EXCL) in the lock folder (`.fbplan/locks` by
default, `FB_LOCK_DIR` to share one between runners on a shared filesystem). It records
who holds it and since when; a second apply fails fast (exit 3) and says so. A lock left
behind by a crashed run is broken only on request (`--break-lock`).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from collections.abc import Iterator
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

    def describe(self) -> str:
        alive = ""
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            alive = " (that process is no longer running: the lock looks stale)"
        return f"{self.who}@{self.host} (pid {self.pid}, {self.command}) since {self.since}{alive}"


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


@contextmanager
def workspace_lock(
    workspace: str, command: str, directory: Path | None = None, *, break_lock: bool = False
) -> Iterator[Holder]:
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
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        current = read_holder(path)
        who = current.describe() if current else "an unreadable lock file"
        raise SafetyError(
            f"the workspace {workspace} is locked by {who} ({path}); wait for that run to "
            "finish, or pass --break-lock if it is stale"
        ) from None
    with os.fdopen(fd, "w") as handle:
        json.dump(holder.__dict__, handle)
    try:
        yield holder
    finally:
        path.unlink(missing_ok=True)
