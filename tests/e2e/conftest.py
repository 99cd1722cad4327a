"""End-to-end fixtures: fbplan run as a user runs it, in a subprocess, in a scratch folder."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CONTROLS = re.compile(r"(\x1b\[\d*A|\x1b\[2K|\x1b\[\?25[lh]|\r|\n)")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass
class User:
    """A scratch folder holding a copy of the committed examples/, and ways to run fbplan in
    it."""

    cwd: Path
    env: dict[str, str]

    def fbplan(self, *args: str, timeout: float = 120) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "fbplan", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def terminal(self, *args: str, timeout: float = 120) -> Run:
        """fbplan with stdin, stdout and stderr on one pseudo-terminal, as in a shell, for a
        person (not CI): `stdout` is what the user sees at the end, in order, without
        colours, and `stderr` everything that was written (a live display included)."""
        main, child = pty.openpty()
        env = {k: v for k, v in self.env.items() if k != "CI"} | {"TERM": "xterm-256color"}
        process = subprocess.Popen(
            [sys.executable, "-m", "fbplan", *args],
            cwd=self.cwd,
            env=env,
            stdin=child,
            stdout=child,
            stderr=child,
        )
        os.close(child)
        try:
            seen = _read_until_closed(main, time.monotonic() + timeout)
            code = process.wait(timeout=timeout)
        finally:
            os.close(main)
            if process.poll() is None:
                process.kill()
                process.wait()
        text = _ANSI.sub("", seen.decode("utf-8", errors="replace").replace("\r\n", "\n"))
        return Run(code, screen(text), text)


def screen(text: str) -> str:
    """The lines a terminal shows after `text`, for the few controls a live display (rich)
    writes: carriage return, erase line (CSI 2K), cursor up (CSI nA); cursor visibility
    (CSI ?25l/h) is ignored. Any other control sequence is kept as it is, so it shows."""
    lines, row, col = [""], 0, 0
    for part in _CONTROLS.split(text):
        if (up := re.fullmatch(r"\x1b\[(\d*)A", part)) is not None:
            row = max(0, row - int(up.group(1) or 1))
        elif part == "\x1b[2K":
            lines[row] = ""
        elif part == "\r":
            col = 0
        elif part == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif part and not part.startswith("\x1b[?25"):
            line = lines[row].ljust(col)
            lines[row] = line[:col] + part + line[col + len(part) :]
            col += len(part)
    return "\n".join(line.rstrip() for line in lines)


@contextmanager
def emulator_server(user: User, *flags: str, token: str) -> Iterator[None]:
    """`fbplan emulator` as a server that outlives each command, as the README shows, with
    FB_BACKEND_URL and FB_JWT set for the user's next commands."""
    args = ["emulator", "--port", "0", "--data", "emu.db", "--token", token, *flags]
    server = subprocess.Popen(
        [sys.executable, "-m", "fbplan", *args],
        cwd=user.cwd,
        env=user.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        backend = server.stdout.readline().split()[-1]
        user.env.update(FB_BACKEND_URL=backend, FB_JWT=token)
        yield
    finally:
        server.terminate()
        server.communicate(timeout=10)


def _read_until_closed(fd: int, deadline: float) -> bytes:
    """Everything written to a pseudo-terminal until its last writer closed it."""
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child side is closed
            break
        if not data:
            break
        chunks.append(data)
    else:
        raise TimeoutError("fbplan did not finish on the terminal in time")
    return b"".join(chunks)


def committed_examples(target: Path) -> None:
    """The examples as committed (git HEAD), so that a working copy edited by hand (as the
    README's tour once told readers to) cannot change what the tests run; outside a git
    checkout, the files as they are."""
    command = ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD", "examples"]
    try:
        archive = subprocess.run(command, capture_output=True, timeout=60, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(REPO / "examples", target / "examples")
        return
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, **safe)  # type: ignore[arg-type]


@pytest.fixture
def user(tmp_path: Path) -> User:
    committed_examples(tmp_path)
    shutil.copytree(REPO / "fbplan" / "schemas", tmp_path / "schemas")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FB_", "AWS_", "OPENAI_"))}
    env["PYTHONPATH"] = str(REPO)
    return User(tmp_path, env)
