"""The plan (or drift report) as text, Terraform-like, readable in a terminal or a CI log.

A header, the blockers (what stops apply comes first), one block per actionable change
(marker, address, phrase, field lines and `#` comments), the unmanaged objects, the quota
the plan's creates count against, notes, the checks' findings, and last the summary line.
"""

from __future__ import annotations

from fbplan.plan.model import Action, Plan
from fbplan.plan.render.rows import ChangeRow, Rows, build_rows
from fbplan.secrets.values import redact

_RESET = "\x1b[0m"
_COLORS = {"+": "\x1b[32m", "~": "\x1b[33m", "-": "\x1b[31m", "!": "\x1b[1;31m"}
_PLAN_LEGEND = "Symbols: + create, ~ update in place, -/+ replace, - delete"
_DRIFT_LEGEND = "Symbols: ~ changed, + missing, - unmanaged. Values read live -> spec."


def render_text(
    plan: Plan,
    *,
    drift: bool = False,
    color: bool = False,
    title: str | None = None,
    verbose: bool = False,
    approvals: bool = True,
) -> str:
    """`title` names what the plan is for, e.g. "destroy plan" (default: plan, or drift).
    `verbose` lists the drift the spec's `ignore` accepts (else only counted); `approvals`
    says which deletes and replaces the spec approves or still needs to (not for destroy,
    which needs no approval)."""
    rows = build_rows(plan, drift=drift)
    paint = _Painter(color)
    sections = [
        _header(rows, title),
        [f"{paint('!', 'Blocked:')} {line}" for line in rows.blockers],
        *(_change_block(row, paint) for row in rows.changes),
        _unmanaged(rows),
        _quota(rows),
        _ignored(rows) if verbose else [],
        _approvals(rows) if approvals else [],
        _notes(rows),
        _checks(rows),
        [rows.summary],
    ]
    return redact("\n\n".join("\n".join(s) for s in sections if s) + "\n")


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, key: str, text: str) -> str:
        if not self.enabled:
            return text
        return f"{_COLORS[key]}{text}{_RESET}"

    def marker(self, marker: str) -> str:
        if marker == "-/+":
            return f"{self('-', '-')}/{self('+', '+')}"
        return self(marker, marker) if marker in _COLORS else marker


def _header(rows: Rows, title: str | None = None) -> list[str]:
    title = title or ("drift report" if rows.drift else "plan")
    lines = [f'fbplan {title} for workspace "{rows.workspace}"']
    if rows.changes:
        lines.append(_DRIFT_LEGEND if rows.drift else _PLAN_LEGEND)
    return lines


def _change_block(row: ChangeRow, paint: _Painter) -> list[str]:
    lines = [f"{paint.marker(row.marker)} {row.address} {row.phrase}"]
    if row.action is not Action.DELETE:
        width = max((len(f.name) for f in row.fields), default=0) + 1
        lines += [f"    {(f.name + ':').ljust(width)} {f.value()}" for f in row.fields]
    lines += [f"    # {comment}" for comment in row.comments]
    return lines


def _unmanaged(rows: Rows) -> list[str]:
    if not rows.unmanaged:
        return []
    title = "live, not in the spec" if rows.drift else "not in the spec, left alone"
    return [
        f"Unmanaged ({title}):",
        *(f"  {u.address} ({u.describe()})" for u in rows.unmanaged),
    ]


def _notes(rows: Rows) -> list[str]:
    if not rows.notes:
        return []
    return ["Notes:", *(f"  - {note}" for note in rows.notes)]


def _checks(rows: Rows) -> list[str]:
    """The `--checks` summary and each warning (a deny is a blocker, shown below)."""
    if not rows.checks:
        return []
    return [rows.checks, *(f"  warning: {line}" for line in rows.check_warnings)]


def _quota(rows: Rows) -> list[str]:
    """The organization's quota the plan's creates count against, as a small table."""
    if not rows.quota:
        return []
    table = [("capability", "current", "planned", "max", "")]
    table += [
        (q.capability, q.current, q.planned, q.max, "over the quota" if q.over else "")
        for q in rows.quota
    ]
    widths = [max(len(line[i]) for line in table) for i in range(5)]
    cells = (zip(line, widths, strict=True) for line in table)
    return [
        "Quota (organization-wide):",
        *("  " + "  ".join(cell.ljust(width) for cell, width in row).rstrip() for row in cells),
    ]


def _ignored(rows: Rows) -> list[str]:
    if not rows.ignored:
        return []
    lines = ["Ignored (accepted by the spec's ignore section):"]
    for item in rows.ignored:
        lines.append(f"  {item.address} ({item.rule})")
        lines += [f"      {f.name}: {f.value()}" for f in item.fields]
    return lines


def _approvals(rows: Rows) -> list[str]:
    lines = [f"Approved in the spec: {line}" for line in rows.approved]
    if rows.needs_approval:
        lines += [
            "Not approved: apply carries these out only with --allow-delete, or once the "
            "spec approves them, with these lines:",
            "  approve:",
            *(f"    - {line}" for line in rows.needs_approval),
        ]
    return lines
