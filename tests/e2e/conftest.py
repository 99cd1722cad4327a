"""End-to-end fixtures: fbplan run as a user runs it, in a subprocess, in a scratch folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass
class User:
    """A scratch folder holding a copy of examples/, and a way to run fbplan in it."""

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


@pytest.fixture
def user(tmp_path: Path) -> User:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "fbplan" / "schemas", tmp_path / "schemas")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FB_", "AWS_", "OPENAI_"))}
    env["PYTHONPATH"] = str(REPO)
    return User(tmp_path, env)
