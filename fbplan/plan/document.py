"""The plan document: a Plan encoded as versioned JSON, and decoded back, in one place.

The structure is described by `schemas/plan.schema.json` and `docs/plan-format.md`.
Additive changes keep `format_version`; a breaking change bumps it. Keys come in a fixed
order (the nested `before`/`after` objects sorted), with a 2-space indent and a trailing
newline. Every string is redacted before encoding and the encoded text once more. Control
characters are escaped (`json.dumps` escapes C0; DEL, C1 and bidi controls are escaped
after), so the document is safe to print. `from_document(to_document(plan))` equals
`plan`; decoding checks the format version first, then the shape against the schema, and
every problem is a `ConfigError` of one sentence naming where the document came from.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from fbplan.checks.results import CheckResults
from fbplan.errors import ConfigError
from fbplan.plan.model import (
    PLAN_FORMAT_VERSION,
    Action,
    Blocker,
    Change,
    FieldChange,
    Ignored,
    Plan,
)
from fbplan.plan.model import Unmanaged as UnmanagedItem
from fbplan.plan.quota import Credits, QuotaReport, QuotaRow, plain
from fbplan.plan.render.rows import drift_counts, drift_status, scrub
from fbplan.printable import json_safe
from fbplan.secrets.values import MASK, redact, shown

if TYPE_CHECKING:  # jsonschema is imported when a saved plan is read, not by every plan
    from jsonschema import Draft202012Validator

# --- Plan -> document ---------------------------------------------------------------------


def dumps(document: dict[str, Any]) -> str:
    return json_safe(redact(json.dumps(document, indent=2, ensure_ascii=False) + "\n"))


def to_document(plan: Plan, *, drift: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format_version": PLAN_FORMAT_VERSION,
        "kind": "drift" if drift else "plan",
        "workspace": redact(shown(plan.workspace)),
        "spec_path": redact(plan.spec_path),
        "spec_digest": plan.spec_digest,
        "live_digest": plan.live_digest,
        "rotate": [redact(a) for a in plan.rotate],
        "targets": [redact(a) for a in plan.targets],
        "excludes": [redact(a) for a in plan.excludes],
        "variables": {name: redact(value) for name, value in sorted(plan.variables.items())},
        "force": plan.force,
        "summary": _summary(plan),
        "blockers": [_blocker(b) for b in plan.blockers],  # at the head: they decide apply
    }
    if plan.backend:
        document["backend"] = {"url": redact(plan.backend), "org_id": redact(plan.org_id)}
    if drift:
        document["drift"] = dict(drift_counts(plan))
    document["changes"] = [_change(c, drift) | _who(plan, c.address) for c in plan.changes]
    document["unmanaged"] = [_unmanaged(u) | _who(plan, u.address) for u in plan.unmanaged]
    if plan.ignored:  # optional keys, present only when the spec uses these sections
        document["ignored"] = [_ignored(i) | _who(plan, i.address) for i in plan.ignored]
    document["notes"] = [redact(n) for n in plan.notes]
    if plan.checks is not None:
        document["checks"] = scrub(plan.checks.to_document())
    if plan.quota is not None and not drift:
        document["quota"] = _quota(plan.quota)
    if plan.approved:
        document["approved"] = [redact(a) for a in plan.approved]
    if drift and plan.attribution is not None:
        document["attribution"] = {"available": not plan.attribution}
        if plan.attribution:
            document["attribution"]["message"] = redact(plan.attribution)
    return document


def _who(plan: Plan, address: str) -> dict[str, Any]:
    found = plan.changed_by.get(address)
    if found is None:
        return {}
    who = {"user": redact(found.user), "at": redact(found.at), "event": redact(found.event)}
    return {"changed_by": who}


def _ignored(item: Ignored) -> dict[str, Any]:
    return {
        "address": redact(item.address),
        "kind": item.kind,
        "rule": redact(item.rule),
        "fields": [_field(f) for f in item.fields],
        "live_id": redact(item.live_id) if item.live_id else None,
    }


def _quota(report: QuotaReport) -> dict[str, Any]:
    credits = report.credits
    return {
        "checked": report.checked,
        "capabilities": [
            {
                "code": redact(row.code),
                "type": redact(row.type),
                "period": redact(row.period),
                "current": plain(row.current),
                "planned": plain(row.planned),
                "max": plain(row.max),
                "over": row.over,
                "creates": [redact(a) for a in row.creates],
            }
            for row in report.rows
        ],
        "credits": None
        if credits is None
        else {
            "balance": plain(credits.balance),
            "realtime_balance": plain(credits.realtime),
            "pending": plain(credits.pending),
        },
    }


def _summary(plan: Plan) -> dict[str, int]:
    counts = {a.value.replace("-", "_"): plan.count(a) for a in Action}
    ignored = {"ignored": len(plan.ignored)} if plan.ignored else {}
    return {**counts, "unmanaged": len(plan.unmanaged), **ignored}


def _change(change: Change, drift: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "address": redact(change.address),
        "kind": change.kind,
        "action": change.action.value,
    }
    if drift:
        item["drift"] = drift_status(change.action)
    item |= {
        "fields": [_field(f) for f in change.fields],
        "reasons": [redact(r) for r in change.reasons],
        "new_credentials": change.new_credentials,
        "protect": change.protect,
        "before": scrub(change.before),
        "after": scrub(change.after),
        "live_id": redact(change.live_id) if change.live_id else None,
    }
    return item


def _field(field: FieldChange) -> dict[str, Any]:
    before, after = (MASK, MASK) if field.sensitive else (field.before, field.after)
    return {
        "field": redact(field.field),
        "before": scrub(before),
        "after": scrub(after),
        "sensitive": field.sensitive,
    }


def _unmanaged(item: UnmanagedItem) -> dict[str, Any]:
    return {
        "address": redact(item.address),
        "kind": item.kind,
        "live_id": redact(item.live_id) if item.live_id else None,
        "prunable": item.prunable,
    }


def _blocker(blocker: Blocker) -> dict[str, Any]:
    return {
        "rule": blocker.rule,
        "message": redact(blocker.message),
        "addresses": [redact(a) for a in blocker.addresses],
    }


# --- document -> Plan ---------------------------------------------------------------------


def decode(document: Any, source: str) -> Plan:
    """The Plan of a parsed plan document; `source` names it in errors ("plan file p.json")."""
    if not isinstance(document, dict):
        raise ConfigError(f"{source} is not an fbplan plan (expected a JSON object).")
    _check_version(source, document)
    _check_shape(source, document)
    return from_document(document)


def _check_version(source: str, document: dict[str, Any]) -> None:
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(f"{source} is not an fbplan plan (no format_version).")
    if version > PLAN_FORMAT_VERSION:
        raise ConfigError(
            f"{source} was written by a newer fbplan (format {version}); "
            f"this fbplan reads format {PLAN_FORMAT_VERSION}."
        )
    if version != PLAN_FORMAT_VERSION:
        raise ConfigError(
            f"{source} has format {version}, which this fbplan does not read "
            f"(it reads format {PLAN_FORMAT_VERSION})."
        )
    if document.get("kind") == "drift":
        raise ConfigError(f"{source} holds a drift report, not a plan.")


def _check_shape(source: str, document: dict[str, Any]) -> None:
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(document))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    raise ConfigError(f"{source} is not a valid fbplan plan: at {where}, {message}.")


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema_file = resources.files("fbplan").joinpath("schemas/plan.schema.json")
    return Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))


def schema() -> dict[str, Any]:
    """The JSON Schema of plan documents (`schemas/plan.schema.json`)."""
    return dict(_validator().schema)


def from_document(document: dict[str, Any]) -> Plan:
    """Rebuild a Plan from a validated plan document."""
    return Plan(
        workspace=document["workspace"],
        changes=tuple(_change_of(item) for item in document["changes"]),
        unmanaged=tuple(_unmanaged_item(item) for item in document["unmanaged"]),
        notes=tuple(document["notes"]),
        blockers=tuple(_blocker_of(item) for item in document["blockers"]),
        spec_digest=document["spec_digest"],
        live_digest=document["live_digest"],
        spec_path=document["spec_path"],
        rotate=tuple(document.get("rotate", [])),
        targets=tuple(document.get("targets", [])),
        excludes=tuple(document.get("excludes", [])),
        variables=dict(document.get("variables", {})),
        force=bool(document.get("force", False)),
        backend=str((document.get("backend") or {}).get("url", "")),
        org_id=str((document.get("backend") or {}).get("org_id", "")),
        checks=CheckResults.from_document(document["checks"]) if "checks" in document else None,
        quota=_quota_of(document["quota"]) if "quota" in document else None,
        ignored=tuple(_ignored_of(item) for item in document.get("ignored", [])),
        approved=tuple(document.get("approved", [])),
        format_version=document["format_version"],
    )


def _change_of(item: dict[str, Any]) -> Change:
    return Change(
        address=item["address"],
        kind=item["kind"],
        action=Action(item["action"]),
        before=item["before"],
        after=item["after"],
        fields=tuple(_field_of(f) for f in item["fields"]),
        reasons=tuple(item["reasons"]),
        new_credentials=item["new_credentials"],
        protect=item["protect"],
        live_id=item["live_id"],
    )


def _field_of(item: dict[str, Any]) -> FieldChange:
    return FieldChange(item["field"], item["before"], item["after"], item["sensitive"])


def _unmanaged_item(item: dict[str, Any]) -> UnmanagedItem:
    return UnmanagedItem(item["address"], item["kind"], item["live_id"], item["prunable"])


def _blocker_of(item: dict[str, Any]) -> Blocker:
    return Blocker(item["rule"], item["message"], tuple(item["addresses"]))


def _ignored_of(item: dict[str, Any]) -> Ignored:
    fields = tuple(_field_of(f) for f in item["fields"])
    return Ignored(item["address"], item["kind"], item["rule"], fields, item["live_id"])


def _quota_of(item: dict[str, Any]) -> QuotaReport:
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
