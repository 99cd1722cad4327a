"""The plan (or drift report) as a documented, versioned JSON document.

The structure is described by `schemas/plan.schema.json` and `docs/plan-format.md`.
Additive changes keep `format_version`; a breaking change bumps it. Keys come in a fixed
order (the nested `before`/`after` objects sorted), with a 2-space indent and a trailing
newline. Every string is redacted before encoding and the encoded text once more. Control
characters are escaped (`json.dumps` escapes C0; DEL, C1 and bidi controls are escaped
after), so the document is safe to print.
"""

from __future__ import annotations

import json
from typing import Any

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
from fbplan.plan.quota import QuotaReport, plain
from fbplan.plan.render.rows import drift_counts, drift_status, scrub
from fbplan.printable import json_safe
from fbplan.secrets.values import MASK, redact, shown


def render_json(plan: Plan, *, drift: bool = False) -> str:
    return dumps(to_document(plan, drift=drift))


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
        "variables": {name: redact(value) for name, value in sorted(plan.variables.items())},
        "force": plan.force,
        "summary": _summary(plan),
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
    document["blockers"] = [_blocker(b) for b in plan.blockers]
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
