"""Plan files: a Plan saved by `fbplan plan --out` and executed later by `apply --plan`.

A plan file is the JSON document of `render_json` (kind `plan`), which already holds all a
Plan is made of, so `load_plan(path)` after `save_plan(plan, path)` gives an equal Plan.
It is written atomically (a temporary file in the same folder, then `os.replace`) with
mode 0600, and redacted like every other output. Reading checks the format version first,
then the shape against `schemas/plan.schema.json`; every problem is a `ConfigError` with
one sentence.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from fbplan.checks.results import CheckResults
from fbplan.errors import ConfigError
from fbplan.files import MAX_PLAN_BYTES, FileRefused, read_bounded
from fbplan.plan.model import (
    PLAN_FORMAT_VERSION,
    Action,
    Blocker,
    Change,
    FieldChange,
    Ignored,
    Plan,
    Unmanaged,
)
from fbplan.plan.quota import Credits, QuotaReport, QuotaRow
from fbplan.plan.render.json import dumps, to_document

_MODE = 0o600


def save_plan(plan: Plan, path: Path) -> None:
    """Write `plan` to `path` atomically, readable by its owner only."""
    _write_atomically(Path(path), dumps(to_document(plan)))


def load_plan(path: Path) -> Plan:
    """Read a plan file; raise ConfigError if it is missing, unreadable or not a plan."""
    path = Path(path)
    document = _parse(path, _read(path))
    _check_version(path, document)
    _check_shape(path, document)
    return from_document(document)


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


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"plan file {path} is not valid JSON "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    if not isinstance(document, dict):
        raise ConfigError(f"plan file {path} is not an fbplan plan (expected a JSON object).")
    return document


def _check_version(path: Path, document: dict[str, Any]) -> None:
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(f"plan file {path} is not an fbplan plan (no format_version).")
    if version > PLAN_FORMAT_VERSION:
        raise ConfigError(
            f"plan file {path} was written by a newer fbplan (format {version}); "
            f"this fbplan reads format {PLAN_FORMAT_VERSION}."
        )
    if version != PLAN_FORMAT_VERSION:
        raise ConfigError(
            f"plan file {path} has format {version}, which this fbplan does not read "
            f"(it reads format {PLAN_FORMAT_VERSION})."
        )
    if document.get("kind") == "drift":
        raise ConfigError(f"plan file {path} holds a drift report, not a plan.")


def _check_shape(path: Path, document: dict[str, Any]) -> None:
    error = best_match(_validator().iter_errors(document))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    raise ConfigError(f"plan file {path} is not a valid fbplan plan: at {where}, {message}.")


@cache
def _validator() -> Draft202012Validator:
    schema_file = resources.files("fbplan").joinpath("schemas/plan.schema.json")
    return Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))


def schema() -> dict[str, Any]:
    """The JSON Schema of plan documents (`schemas/plan.schema.json`)."""
    return dict(_validator().schema)


# --- document -> Plan ---------------------------------------------------------------------


def from_document(document: dict[str, Any]) -> Plan:
    """Rebuild a Plan from a validated plan document."""
    return Plan(
        workspace=document["workspace"],
        changes=[_change(item) for item in document["changes"]],
        unmanaged=[_unmanaged(item) for item in document["unmanaged"]],
        notes=list(document["notes"]),
        blockers=[_blocker(item) for item in document["blockers"]],
        spec_digest=document["spec_digest"],
        live_digest=document["live_digest"],
        spec_path=document["spec_path"],
        rotate=list(document.get("rotate", [])),
        targets=list(document.get("targets", [])),
        variables=dict(document.get("variables", {})),
        force=bool(document.get("force", False)),
        backend=str((document.get("backend") or {}).get("url", "")),
        org_id=str((document.get("backend") or {}).get("org_id", "")),
        checks=CheckResults.from_document(document["checks"]) if "checks" in document else None,
        format_version=document["format_version"],
        quota=_quota(document["quota"]) if "quota" in document else None,
        ignored=[_ignored(item) for item in document.get("ignored", [])],
        approved=list(document.get("approved", [])),
    )


def _change(item: dict[str, Any]) -> Change:
    return Change(
        address=item["address"],
        kind=item["kind"],
        action=Action(item["action"]),
        before=item["before"],
        after=item["after"],
        fields=tuple(_field(f) for f in item["fields"]),
        reasons=tuple(item["reasons"]),
        new_credentials=item["new_credentials"],
        protect=item["protect"],
        live_id=item["live_id"],
    )


def _field(item: dict[str, Any]) -> FieldChange:
    return FieldChange(item["field"], item["before"], item["after"], item["sensitive"])


def _unmanaged(item: dict[str, Any]) -> Unmanaged:
    return Unmanaged(item["address"], item["kind"], item["live_id"], item["prunable"])


def _ignored(item: dict[str, Any]) -> Ignored:
    fields = tuple(_field(f) for f in item["fields"])
    return Ignored(item["address"], item["kind"], item["rule"], fields, item["live_id"])


def _blocker(item: dict[str, Any]) -> Blocker:
    return Blocker(item["rule"], item["message"], tuple(item["addresses"]))


def _quota(item: dict[str, Any]) -> QuotaReport:
    credits = item["credits"]
    return QuotaReport(
        checked=item["checked"],
        rows=tuple(
            QuotaRow(
                row["code"],
                row["type"],
                row["period"],
                row["current"],
                row["planned"],
                row["max"],
                tuple(row["creates"]),
            )
            for row in item["capabilities"]
        ),
        credits=None
        if credits is None
        else Credits(credits["balance"], credits["realtime_balance"], credits["pending"]),
    )
