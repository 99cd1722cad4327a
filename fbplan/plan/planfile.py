"""Plan files: a Plan saved by `fbplan plan --out` and executed later by `apply --plan`.

A plan file is the plan document (`fbplan.plan.document`, kind `plan`), which holds all a
Plan is made of, so `load_plan(path)` after `save_plan(plan, path)` gives an equal Plan.
It is written atomically (a temporary file in the same folder, then `os.replace`) with
mode 0600, and redacted like every other output. Reading is bounded in size, then the
document is decoded (version, then shape); every problem is a `ConfigError` with one
sentence.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from fbplan.errors import ConfigError
from fbplan.files import MAX_PLAN_BYTES, FileRefused, read_bounded
from fbplan.plan.document import decode, dumps, schema, to_document
from fbplan.plan.model import Plan

__all__ = ["load_plan", "save_plan", "schema"]

_MODE = 0o600


def save_plan(plan: Plan, path: Path) -> None:
    """Write `plan` to `path` atomically, readable by its owner only."""
    _write_atomically(Path(path), dumps(to_document(plan)))


def load_plan(path: Path) -> Plan:
    """Read a plan file; raise ConfigError if it is missing, unreadable or not a plan."""
    path = Path(path)
    return decode(_parse(path, _read(path)), f"plan file {path}")


# --- writing ------------------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write plan file {path}: {exc.strerror or exc}.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _MODE)
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write plan file {path}: {exc.strerror or exc}.") from exc
        raise


# --- reading ------------------------------------------------------------------------------


def _read(path: Path) -> str:
    """The plan file's text: a regular file of at most `MAX_PLAN_BYTES`, never a FIFO or a
    device that would hang or exhaust memory."""
    try:
        return read_bounded(path, MAX_PLAN_BYTES).decode("utf-8")
    except FileRefused as exc:
        if exc.missing:
            raise ConfigError(f"plan file {path} does not exist.") from None
        raise ConfigError(f"cannot read plan file {path}: {exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"plan file {path} is not a text file (not UTF-8).") from exc


def _parse(path: Path, text: str) -> Any:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"plan file {path} is not valid JSON "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    return document
