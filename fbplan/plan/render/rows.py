"""The row model every human-readable renderer shares.

`build_rows` turns a Plan into plain rows of already formatted, already redacted strings,
with control characters escaped (a name or value can never forge a line or drive the
terminal):
one `ChangeRow` per actionable change (marker, phrase, field lines, comments), the
unmanaged objects, notes, blockers, counts, the quota capabilities the plan's creates count
against, and the summary line. The text and markdown
renderers only lay these rows out, so both always say the same thing.

With `drift=True` the same data reads as a drift report: an update or replace is
"changed" (before = live, after = spec), a create is "missing", a delete is "unmanaged";
blockers are left out, since a drift report applies nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any, Literal

from fbplan.plan.approvals import unapproved
from fbplan.plan.model import Action, Blocker, Change, FieldChange, Ignored, Plan, Unmanaged
from fbplan.plan.quota import QuotaReport, number
from fbplan.printable import printable
from fbplan.secrets.values import MASK, Secret, Sourced, shown
from fbplan.secrets.values import redact as _redact

FieldOp = Literal["+", "-", "~"]
DriftStatus = Literal["changed", "missing", "unmanaged", "none"]

MARKERS: dict[Action, str] = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.NOOP: " ",
}
PHRASES: dict[Action, str] = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
    Action.NOOP: "is unchanged",
}
DRIFT_MARKERS: dict[DriftStatus, str] = {
    "changed": "~",
    "missing": "+",
    "unmanaged": "-",
    "none": " ",
}
DRIFT_PHRASES: dict[DriftStatus, str] = {
    "changed": "has changed",
    "missing": "is missing (declared, not live)",
    "unmanaged": "is unmanaged (live, not in the spec)",
    "none": "matches the spec",
}
NEW_CREDENTIALS = "new credentials: applications using this key must be given the new secret"
SENSITIVE_CHANGED = "(sensitive value changed)"
_SCALARS: dict[Any, str] = {True: "true", False: "false", None: "null"}


@dataclass(frozen=True)
class FieldRow:
    """One field line: `+` a value set, `-` a value removed, `~` before -> after."""

    name: str
    op: FieldOp
    before: str | None = None
    after: str | None = None
    sensitive: bool = False

    def value(self) -> str:
        """The part after `name: `, as the text renderer shows it."""
        if self.sensitive:
            return SENSITIVE_CHANGED if self.op == "~" else MASK
        match self.op:
            case "+":
                return self.after or ""
            case "-":
                return self.before or ""
            case "~":
                return f"{self.before} -> {self.after}"


@dataclass(frozen=True)
class ChangeRow:
    address: str
    kind: str
    action: Action
    label: str  # the action word, or the drift status in a drift report
    marker: str
    phrase: str
    fields: tuple[FieldRow, ...]
    comments: tuple[str, ...]
    live_id: str | None

    @property
    def changed_fields(self) -> tuple[str, ...]:
        """Names of the fields an update or replace changes (empty for create/delete)."""
        return tuple(f.name for f in self.fields if f.op == "~")


@dataclass(frozen=True)
class UnmanagedRow:
    address: str
    kind: str
    live_id: str | None
    prunable: bool

    changed_by: str | None = None

    def describe(self) -> str:
        parts = [self.kind, f"id {self.live_id}" if self.live_id else "no id"]
        if not self.prunable:
            parts.append("never pruned")
        if self.changed_by:
            parts.append(self.changed_by)
        return ", ".join(parts)


@dataclass(frozen=True)
class QuotaLine:
    """One capability the plan's creates count against, its numbers already formatted."""

    capability: str
    current: str
    planned: str
    max: str
    over: bool


@dataclass(frozen=True)
class IgnoredRow:
    """Drift the spec's `ignore` accepts: ignored fields, or an accepted unmanaged object."""

    address: str
    kind: str
    rule: str
    fields: tuple[FieldRow, ...]


@dataclass(frozen=True)
class Rows:
    drift: bool
    workspace: str
    changes: tuple[ChangeRow, ...]
    unmanaged: tuple[UnmanagedRow, ...]
    notes: tuple[str, ...]
    blockers: tuple[str, ...]
    counts: tuple[tuple[str, int], ...]
    summary: str
    checks: str = ""  # `--checks`: the summary line, when checks ran (not in a drift report)
    check_warnings: tuple[str, ...] = ()
    quota: tuple[QuotaLine, ...] = ()  # capabilities the plan's creates count against
    ignored: tuple[IgnoredRow, ...] = ()
    needs_approval: tuple[str, ...] = ()  # approve: lines the destructive changes still need
    approved: tuple[str, ...] = ()  # destructive changes the spec approves


def redact(text: str) -> str:
    """Redacted, then printable: every string a row holds goes through here."""
    return printable(_redact(text))


def build_rows(plan: Plan, *, drift: bool = False) -> Rows:
    who = {a: redact(c.describe()) for a, c in plan.changed_by.items()}
    pending = () if drift else tuple(redact(line) for line in unapproved(plan, plan.approved))
    return Rows(
        drift=drift,
        workspace=redact(shown(plan.workspace)),
        changes=tuple(_change_row(c, drift, who.get(c.address)) for c in plan.actionable),
        unmanaged=tuple(_unmanaged_row(u, who.get(u.address)) for u in plan.unmanaged),
        notes=tuple(redact(n) for n in plan.notes),
        blockers=() if drift else tuple(_blocker_line(b) for b in plan.blockers),
        counts=drift_counts(plan) if drift else plan_counts(plan),
        summary=redact(_with_ignored(drift_summary(plan) if drift else plan.summary(), plan)),
        **_check_rows(plan, drift),
        quota=() if drift or plan.quota is None else _quota_lines(plan.quota),
        ignored=tuple(_ignored_row(i) for i in plan.ignored),
        needs_approval=pending,
        approved=tuple(redact(line) for line in plan.approved if line not in pending and not drift),
    )


def _quota_lines(report: QuotaReport) -> tuple[QuotaLine, ...]:
    return tuple(
        QuotaLine(
            redact(row.code), number(row.current), number(row.planned), number(row.max), row.over
        )
        for row in report.affected
    )


def _check_rows(plan: Plan, drift: bool) -> dict[str, Any]:
    if drift or plan.checks is None:
        return {}
    return {
        "checks": redact(plan.checks.summary()),
        "check_warnings": tuple(redact(f.line()) for f in plan.checks.warnings),
    }


def _with_ignored(summary: str, plan: Plan) -> str:
    """The summary line, with the count of ignored drift when there is any."""
    if not plan.ignored:
        return summary
    return f"{summary.rstrip('.')} ({len(plan.ignored)} ignored)."


# --- counts and summaries -------------------------------------------------------------


def plan_counts(plan: Plan) -> tuple[tuple[str, int], ...]:
    actions = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
    return (*((a.value, plan.count(a)) for a in actions), ("unmanaged", len(plan.unmanaged)))


def drift_status(action: Action) -> DriftStatus:
    match action:
        case Action.UPDATE | Action.REPLACE:
            return "changed"
        case Action.CREATE:
            return "missing"
        case Action.DELETE:
            return "unmanaged"
        case Action.NOOP:
            return "none"


def drift_counts(plan: Plan) -> tuple[tuple[str, int], ...]:
    statuses = [drift_status(c.action) for c in plan.changes]
    return (
        ("changed", statuses.count("changed")),
        ("missing", statuses.count("missing")),
        ("unmanaged", statuses.count("unmanaged") + len(plan.unmanaged)),
    )


def drift_summary(plan: Plan) -> str:
    counts = dict(drift_counts(plan))
    if not any(counts.values()):
        return "No drift."
    return (
        f"Drift: {counts['changed']} changed, {counts['missing']} missing, "
        f"{counts['unmanaged']} unmanaged."
    )


# --- one change -------------------------------------------------------------------------


def _change_row(change: Change, drift: bool, changed_by: str | None = None) -> ChangeRow:
    status = drift_status(change.action)
    return ChangeRow(
        address=redact(change.address),
        kind=change.kind,
        action=change.action,
        label=status if drift else change.action.value,
        marker=DRIFT_MARKERS[status] if drift else MARKERS[change.action],
        phrase=DRIFT_PHRASES[status] if drift else PHRASES[change.action],
        fields=_field_rows(change),
        comments=_comments(change) + ((changed_by,) if changed_by else ()),
        live_id=redact(change.live_id) if change.live_id else None,
    )


def _field_rows(change: Change) -> tuple[FieldRow, ...]:
    match change.action:
        case Action.CREATE:
            return _listed(change.after or {}, "+")
        case Action.DELETE:
            return _listed(change.before or {}, "-")
        case Action.UPDATE | Action.REPLACE:
            return tuple(_changed(f) for f in change.fields)
        case Action.NOOP:
            return ()


def _listed(values: Mapping[str, Any], op: FieldOp) -> tuple[FieldRow, ...]:
    """The fields a create sets or a delete removes; unset (None) fields are left out."""
    rows = []
    for name in sorted(values):
        value = values[name]
        if value is None:
            continue
        shown = format_value(value)
        sensitive = _is_masked(value)
        before, after = (None, shown) if op == "+" else (shown, None)
        rows.append(FieldRow(redact(name), op, before, after, sensitive))
    return tuple(rows)


def _changed(field: FieldChange) -> FieldRow:
    """A changed field; a masked before (a value the spec takes from the environment or a
    file replaced it) still shows the after: the reference, as written."""
    sensitive = field.sensitive or _is_masked(field.after)
    if sensitive:
        return FieldRow(redact(field.field), "~", sensitive=True)
    return FieldRow(redact(field.field), "~", format_value(field.before), format_value(field.after))


def _comments(change: Change) -> tuple[str, ...]:
    comments: list[str] = []
    match change.action:
        case Action.REPLACE:
            comments += [f"forces replacement: {redact(r)}" for r in change.reasons]
        case Action.CREATE | Action.UPDATE | Action.DELETE | Action.NOOP:
            comments += [redact(r) for r in change.reasons]
    if change.new_credentials:
        comments.append(NEW_CREDENTIALS)
    if change.destructive and change.live_id:
        comments.append(f"live id: {redact(change.live_id)}")
    if change.destructive and change.protect:
        comments.append("protected (protect: true)")
    return tuple(comments)


def _unmanaged_row(item: Unmanaged, changed_by: str | None = None) -> UnmanagedRow:
    live_id = redact(item.live_id) if item.live_id else None
    return UnmanagedRow(redact(item.address), item.kind, live_id, item.prunable, changed_by)


def _ignored_row(item: Ignored) -> IgnoredRow:
    fields = tuple(_changed(f) for f in item.fields)
    return IgnoredRow(redact(item.address), item.kind, redact(item.rule), fields)


def _blocker_line(blocker: Blocker) -> str:
    where = f": {', '.join(blocker.addresses)}" if blocker.addresses else ""
    return redact(f"{blocker.message} ({blocker.rule}{where})")


# --- values -------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """A value as one compact, JSON-like line; a masked or Secret value shows as the mask."""
    if _is_masked(value):
        return MASK
    # The common scalars encoded as `json.dumps` encodes them, without its per-call setup
    # (a plan of 10,000 resources formats some 30,000 values).
    kind = type(value)
    if kind is str:
        return printable(encode_basestring(_redact(value)))
    if kind is int:
        return int.__repr__(value)
    if kind is bool or value is None:
        return _SCALARS[value]
    text = json.dumps(scrub(value), ensure_ascii=False, separators=(", ", ": "), default=_default)
    return printable(text)


def scrub(value: Any) -> Any:
    """`value` with every string (and dict key) redacted and every Secret masked, so that a
    secret is masked before any escaping (JSON, HTML) could hide it from `redact`."""
    kind = type(value)
    if kind is str:  # the common cases first: a plan document scrubs every value it holds
        return _redact(value)
    if kind is dict and all(type(k) is str for k in value):
        # Distinct plain-string keys sort as `_key` sorts them, without a call per key.
        return {_redact(k): scrub(v) for k, v in sorted(value.items(), key=_first)}
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Sourced):
        return _redact(value.written)
    if isinstance(value, str):
        return _redact(value)
    if isinstance(value, Mapping):
        return {_redact(str(k)): scrub(v) for k, v in sorted(value.items(), key=_key)}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((scrub(v) for v in value), key=str)
    return value


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])


_first = itemgetter(0)


def _is_masked(value: Any) -> bool:
    return isinstance(value, Secret) or value == MASK


def _default(value: Any) -> str:
    return _redact(str(value))
