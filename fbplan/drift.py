"""Who changed a drifted object, and when: read from the backend's system events.

Asked only when there is drift, and bounded: one `POST /systemevent` for the workspace,
the newest `TAKE` events of the last `WINDOW`. For each drifted object (changed, or
unmanaged) the newest event whose `contextId` is its id names the user and the time. An
object with no such event (older than the window, an AI policy, which the backend's event
contexts do not cover, or an object that is missing) is reported without attribution. If
the endpoint fails (403, 404 on an older backend, a timeout) the report still works and
says that attribution is unavailable.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fbplan.errors import BackendError
from fbplan.model import State
from fbplan.plan.model import Action, ChangedBy, Plan

WINDOW = timedelta(days=30)
TAKE = 100
PATH = "/systemevent"


def drifted_ids(plan: Plan) -> dict[str, str]:
    """Live id -> address of every drifted object that exists live."""
    ids = {
        c.live_id: c.address
        for c in plan.changes
        if c.live_id and c.action in (Action.UPDATE, Action.REPLACE, Action.DELETE)
    }
    ids |= {u.live_id: u.address for u in plan.unmanaged if u.live_id}
    return ids


def attribute(api: Any, plan: Plan, live: State, *, now: datetime | None = None) -> Plan:
    """The drift report with who changed what (`changed_by`, and `attribution`: "" when the
    system events were read, else why not), from the system events."""
    wanted = drifted_ids(plan)
    if not wanted or not live.workspace_id:
        return plan
    now = now or datetime.now(UTC)
    query = {
        "workspaceId": live.workspace_id,
        "from_timestamp": _iso(now - WINDOW),
        "skip": 0,
        "take": TAKE,
    }
    try:
        answer = api.post(PATH, json=query)
    except BackendError as error:
        status = getattr(error, "status", None)
        reason = f"HTTP {status}" if status is not None else "no answer"
        unavailable = (
            f"who changed what is unavailable: the backend's system events could not be read "
            f"(POST {PATH}: {reason})"
        )
        return replace(plan, attribution=unavailable, notes=(*plan.notes, unavailable))
    return replace(plan, changed_by=_newest_by_object(_events(answer), wanted), attribution="")


def _events(answer: Any) -> list[dict[str, Any]]:
    events = answer.get("events") if isinstance(answer, dict) else None
    return [e for e in events[:TAKE] if isinstance(e, dict)] if isinstance(events, list) else []


def _newest_by_object(events: list[dict[str, Any]], wanted: dict[str, str]) -> dict[str, ChangedBy]:
    found: dict[str, ChangedBy] = {}
    for event in sorted(events, key=lambda e: str(e.get("timestamp") or ""), reverse=True):
        address = wanted.get(str(event.get("contextId")))
        if address is None or address in found:
            continue
        user = event.get("userEmail") or event.get("userName") or event.get("userId") or "?"
        found[address] = ChangedBy(
            str(user), _minute(str(event.get("timestamp") or "")), str(event.get("event") or "")
        )
    return found


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _minute(timestamp: str) -> str:
    """`2026-11-29T10:02:13.120Z` -> `2026-11-29T10:02Z`; anything else as sent."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
