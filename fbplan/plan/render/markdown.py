"""The plan (or drift report) as markdown, sized for a pull-request comment.

Blockers first, in a callout (a reviewer must see what stops apply before anything else),
then a title, the summary line, a count table, the changes that need approval in review,
the quota the plan's creates count against (capability, current, planned, max), the
checks' findings, a table of changes with
each change's details folded in `<details>` (a fenced `diff` block), then the unmanaged
objects and the notes. The whole stays under `max_chars` (GitHub refuses comments over
65,536 characters): when it would not, destructive changes are kept first and an explicit
line says how many changes are not shown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from fbplan.plan.model import Action, Plan
from fbplan.plan.render.rows import ChangeRow, FieldRow, Rows, UnmanagedRow, build_rows
from fbplan.secrets.values import redact

DEFAULT_MAX_CHARS = 60_000
MORE_CHANGES = "… and {n} more changes not shown (see the full plan in the CI log)"
MORE_ITEMS = "… and {n} more {what} not shown (see the full plan in the CI log)"
_LIST_LIMIT = 100  # unmanaged objects and notes shown at most
_EMOJI = {
    "create": "🟢",
    "update": "🟡",
    "replace": "🟠",
    "delete": "🔴",
    "changed": "🟡",
    "missing": "🟠",
    "unmanaged": "⚪",
}
_PRIORITY = {Action.REPLACE: 0, Action.DELETE: 0, Action.UPDATE: 1, Action.CREATE: 2}
_MAX_FIELD_NAMES = 6


def render_markdown(plan: Plan, *, drift: bool = False, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    rows = build_rows(plan, drift=drift)
    head = _join(
        _blockers(rows),
        _title(rows),
        _counts(rows),
        _approval(rows, max_chars // 8),
        _quota(rows),
        _checks(rows, max_chars // 8),
    )
    tail = _join(
        _unmanaged(rows.unmanaged, rows.drift, max_chars // 8),
        _ignored(rows, max_chars // 8),
        _notes(rows.notes, max_chars // 8),
    )
    room = max_chars - len(head) - len(tail) - 8  # 8: the blank lines between sections
    doc = _join(head, _changes(rows.changes, room, rows.drift), tail) + "\n"
    return _hard_limit(redact(doc), max_chars)


def _join(*sections: str) -> str:
    return "\n\n".join(s for s in sections if s)


# --- head ---------------------------------------------------------------------------------


def _title(rows: Rows) -> str:
    kind = "drift report" if rows.drift else "plan"
    return f"### fbplan {kind}: {code(rows.workspace)}\n\n**{text(rows.summary)}**"


def _counts(rows: Rows) -> str:
    if not any(count for _, count in rows.counts):
        return ""
    lines = ["| | count |", "|:--|--:|"]
    lines += [f"| {_EMOJI[label]} {label} | {count} |" for label, count in rows.counts]
    return "\n".join(lines)


def _blockers(rows: Rows) -> str:
    if not rows.blockers:
        return ""
    lines = ["> [!CAUTION]", "> **Blocked:** apply will not run until this is resolved."]
    lines += [f"> - {text(b)}" for b in rows.blockers]
    return "\n".join(lines)


def _checks(rows: Rows, room: int) -> str:
    """The `--checks` summary, and its warnings in a callout (denies are blockers)."""
    if not rows.checks:
        return ""
    summary = text(rows.checks)
    if not rows.check_warnings:
        return summary
    lines = ["> [!WARNING]", "> **Checks warned** (these do not block apply):"]
    warnings = _capped([f"- {text(w)}" for w in rows.check_warnings], room, "warnings")
    lines += [f"> {line}".rstrip() for line in warnings]
    return summary + "\n\n" + "\n".join(lines)


def _quota(rows: Rows) -> str:
    if not rows.quota:
        return ""
    lines = [
        "#### Quota (organization-wide)",
        "",
        "| capability | current | planned | max | |",
        "|---|--:|--:|--:|---|",
    ]
    lines += [
        f"| {code(q.capability, cell=True)} | {q.current} | {q.planned} | {q.max} | "
        f"{'🔴 over the quota' if q.over else '🟢'} |"
        for q in rows.quota[:_LIST_LIMIT]
    ]
    return "\n".join(lines)


def _approval(rows: Rows, room: int) -> str:
    """Which deletes and replaces need approval in review, and the exact lines to add."""
    lines = []
    if rows.needs_approval:
        lines += [
            "> [!IMPORTANT]",
            "> **Needs approval:** this plan deletes or replaces resources. Apply on merge "
            "carries out a delete or replace only if the spec approves it; to approve after "
            "review, add these lines to the spec in this pull request:",
            ">",
            "> ```yaml",
            "> approve:",
            *_capped([f">   - {line}" for line in rows.needs_approval], room, "approvals"),
            "> ```",
        ]
    if rows.approved:
        approved = ", ".join(code(line) for line in rows.approved)
        lines += ["", f"Approved in the spec (carried out on merge): {approved}"]
    return "\n".join(lines).strip()


def _ignored(rows: Rows, room: int) -> str:
    if not rows.ignored:
        return ""
    lines = [
        f"- {code(i.address)} ({text(i.rule)})"
        + "".join(f"<br>{code(f.name)}: {code(f.value())}" for f in i.fields)
        for i in rows.ignored
    ]
    body = "\n".join(_capped(lines, room, "ignored items"))
    summary = f"Ignored ({len(rows.ignored)}, accepted by the spec's ignore section)"
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


# --- changes ------------------------------------------------------------------------------


def _changes(changes: tuple[ChangeRow, ...], room: int, drift: bool) -> str:
    if not changes:
        return ""
    title, column = ("Drift", "drift") if drift else ("Changes", "action")
    header = f"#### {title}\n\n| | address | {column} | changed fields |\n|:-:|---|---|---|"
    more = MORE_CHANGES.format(n=len(changes))
    shown = _select(changes, room - len(header) - len(more) - 8)
    table = [header, *(_table_row(changes[i]) for i in shown)]
    sections = ["\n".join(table) if shown else "", *(_details(changes[i]) for i in shown)]
    hidden = len(changes) - len(shown)
    if hidden:
        sections.append(MORE_CHANGES.format(n=hidden))
    return _join(*sections)


def _select(changes: tuple[ChangeRow, ...], room: int) -> list[int]:
    """Indexes of the changes that fit in `room`, destructive ones first, in plan order."""
    order = sorted(range(len(changes)), key=lambda i: (_PRIORITY.get(changes[i].action, 3), i))
    chosen: list[int] = []
    for index in order:
        cost = len(_table_row(changes[index])) + len(_details(changes[index])) + 3
        if cost <= room:
            chosen.append(index)
            room -= cost
    return sorted(chosen)


def _table_row(row: ChangeRow) -> str:
    names = row.changed_fields
    shown = ", ".join(code(n, cell=True) for n in names[:_MAX_FIELD_NAMES])
    if len(names) > _MAX_FIELD_NAMES:
        shown += f" +{len(names) - _MAX_FIELD_NAMES} more"
    shown = shown or "—"
    return f"| {_EMOJI[row.label]} | {code(row.address, cell=True)} | {row.label} | {shown} |"


def _details(row: ChangeRow) -> str:
    summary = f"{_EMOJI[row.label]} <code>{html.escape(row.address)}</code> {row.phrase}"
    body = [line for f in row.fields for line in _diff_lines(f)]
    body += [f"# {comment}" for comment in row.comments]
    return f"<details><summary>{summary}</summary>\n\n{fence(body, 'diff')}\n\n</details>"


def _diff_lines(field: FieldRow) -> list[str]:
    if field.op == "~" and not field.sensitive:
        return [f"- {field.name}: {field.before}", f"+ {field.name}: {field.after}"]
    return [f"{field.op} {field.name}: {field.value()}"]


# --- tail ---------------------------------------------------------------------------------


def _unmanaged(items: tuple[UnmanagedRow, ...], drift: bool, room: int) -> str:
    if not items:
        return ""
    title = "live, not in the spec" if drift else "not in the spec, left alone"
    header = (
        f"#### Unmanaged ({title})\n\n| address | kind | live id | prunable |\n|---|---|---|---|"
    )
    lines = [
        f"| {code(u.address, cell=True)} | {text(u.kind)} | "
        f"{code(u.live_id, cell=True) if u.live_id else '—'} | {'yes' if u.prunable else 'no'} |"
        for u in items
    ]
    return header + "\n" + "\n".join(_capped(lines, room - len(header), "unmanaged objects"))


def _notes(notes: tuple[str, ...], room: int) -> str:
    if not notes:
        return ""
    lines = _capped([f"- {text(n)}" for n in notes], room, "notes")
    return "#### Notes\n\n" + "\n".join(lines)


def _capped(lines: list[str], room: int, what: str) -> list[str]:
    """The first lines that fit in `room` (at most _LIST_LIMIT), and a line for the rest."""
    kept: list[str] = []
    used = 0
    for line in lines[:_LIST_LIMIT]:
        used += len(line) + 1
        if used > room - len(MORE_ITEMS) - 16:
            break
        kept.append(line)
    hidden = len(lines) - len(kept)
    return [*kept, "", MORE_ITEMS.format(n=hidden, what=what)] if hidden else kept


def _hard_limit(doc: str, max_chars: int) -> str:
    """A last guard for a tiny `max_chars`: cut, and say so."""
    if len(doc) <= max_chars:
        return doc
    cut = "\n\n… (truncated; see the full plan in the CI log)\n"
    if max_chars <= len(cut):
        return doc[:max_chars]
    return doc[: max_chars - len(cut)] + cut


# --- escaping -----------------------------------------------------------------------------

_SPECIAL = re.compile(r"([\\`*\[\]<>|])")
_LONE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_BLOCK_START = re.compile(r"^([#+\-=]|\d+[.)])")


def text(value: str) -> str:
    """Plain text safe in a paragraph, a list item or a table cell."""
    value = value.replace("\n", " ").replace("&", "&amp;")
    value = _LONE_UNDERSCORE.sub(r"\\_", _SPECIAL.sub(r"\\\1", value))
    return _BLOCK_START.sub(r"\\\1", value)


def code(value: str, *, cell: bool = False) -> str:
    """A code span for any text: the fence is longer than any backtick run inside, and in a
    table cell `|` is escaped (GFM reads `\\|` as a literal pipe even inside code)."""
    value = value.replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    ticks = "`" * (longest + 1)
    if value.startswith(("`", " ")) or value.endswith(("`", " ")):
        value = f" {value} "
    span = f"{ticks}{value}{ticks}"
    return span.replace("|", "\\|") if cell else span


def fence(lines: Iterable[str], language: str) -> str:
    """A fenced code block whose fence no line inside can close."""
    body = "\n".join(lines)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{body}\n{ticks}"
