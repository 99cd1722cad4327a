"""Reading request bodies and query strings the way the backend does.

Every request to an API endpoint has already been checked against the contract
(`fbplan.emulator.contract_check`: required fields, types, enums, no unknown field, no null
where none is allowed), so the routes read fields directly; these helpers cover the rest:

- a body must be a JSON object (an empty body reads as ``{}``; the admin API relies on this);
- an optional string sent empty reads as absent (`as_str`);
- query values ``undefined``, ``null`` and empty are absent (the TypeScript client sends the
  literal ``undefined``); multi-value filters are one comma-separated parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, jsonify, request

from fbplan.emulator.problems import bad_request

ABSENT = {"", "undefined", "null"}


def ok(http_status: int = 200, /, **payload: Any) -> tuple[Response, int]:
    """A success answer ``{"success": true, ...payload}`` (`payload` may hold ``status``)."""
    return jsonify({"success": True, **payload}), http_status


def json_body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def as_str(body: Mapping[str, Any], field: str) -> str | None:
    """The string value of an optional field (None when missing, null or empty)."""
    value = body.get(field)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise bad_request(f"Field {field} must be a string")
    return value


# -- query strings ----------------------------------------------------------------------------


def query(name: str, *aliases: str) -> str | None:
    for key in (name, *aliases):
        value = request.args.get(key)
        if value is not None and value.strip() not in ABSENT:
            return value.strip()
    return None


def query_csv(name: str, *aliases: str) -> list[str] | None:
    """A comma-separated filter; None (no filter) when every item is absent (``undefined,``)."""
    value = query(name, *aliases)
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",") if part.strip() not in ABSENT]
    return parts or None


def query_int(name: str, required: bool = False) -> int | None:
    value = query(name)
    if value is None:
        if required:
            raise bad_request(f"Missing required query parameter: {name}")
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"Query parameter {name} must be an integer") from None


def query_datetime(name: str, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time; a bare date used as an end bound means the end of that day."""
    value = query(name)
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
            return day + timedelta(days=1, microseconds=-1) if end_of_day else day
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Query parameter {name} must be an ISO-8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_day(value: Any, field: str) -> date:
    """A day given as ``ddmmyyyy`` (number or string, the client's comment) or ISO."""
    text = str(value).strip()
    try:
        if text.isdigit():
            text = text.zfill(8)
            return date(int(text[4:]), int(text[2:4]), int(text[:2]))
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise bad_request(f"{field} must be a date (ddmmyyyy or ISO-8601)") from None
