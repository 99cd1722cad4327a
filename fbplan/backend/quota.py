"""Read the organization's quota and credit balance: two GETs, once per plan, in the
background while the workspace is read (`reading_quota`). Several specs of one organization
(stacks) can read them once and give the same `QuotaFacts` to each plan.

`GET /user/quota` answering 404 (`NO_ACTIVE_SUBSCRIPTION`) or 403 (a token without the
right to read it) does not fail the plan: the quota is then unknown, and a note says so.
`GET /credits/balance` answering 400 (credits not enabled), 403 or 404 likewise. Any other
failure is the backend failing, and fails the plan like any other read. Answers are
bounded by the client (deadline, size) and checked against the contract; at most
`MAX_CAPABILITIES` capabilities are kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fbplan.errors import ApiError, TransportError
from fbplan.kinds.base import Api
from fbplan.plan.quota import MAX_CAPABILITIES, Capability, Credits, QuotaFacts

QUOTA_PATH = "/user/quota"
CREDITS_PATH = "/credits/balance"
_QUOTA_UNREADABLE = {
    403: "the token may not read the organization's quota",
    404: "the organization has no active subscription",
}
_LIMIT = 1e18
_CREDITS_UNREADABLE = {
    400: "the credits system is not enabled for the organization",
    403: "the token may not read the credit balance",
    404: "",
}


@contextlib.contextmanager
def reading_quota(api: Api, *, enabled: bool = True) -> Iterator[Callable[[], QuotaFacts | None]]:
    """Start both reads in the background; the yielded function waits for them (None when
    not `enabled`). Leaving the block early (the live read failed) waits for them quietly."""
    if not enabled:
        yield lambda: None
        return
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fbplan-quota")
    quota: Future[tuple[tuple[Capability, ...] | None, str]] = pool.submit(_capabilities, api)
    credits: Future[tuple[Credits | None, str]] = pool.submit(_credits, api)

    def result() -> QuotaFacts:
        (capabilities, quota_note), (balance, credits_note) = quota.result(), credits.result()
        notes = tuple(n for n in (quota_note, credits_note) if n)
        return QuotaFacts(capabilities, balance, notes)

    try:
        yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _capabilities(api: Api) -> tuple[tuple[Capability, ...] | None, str]:
    try:
        body = api.get(QUOTA_PATH)
    except ApiError as error:
        return None, _unreadable(error, _QUOTA_UNREADABLE, "quotas were not checked")
    items = (body or {}).get("quotaUsage") or []
    return tuple(_capability(item) for item in items[:MAX_CAPABILITIES]), ""


def _capability(item: Mapping[str, Any]) -> Capability:
    capability, usage = item["capability"], item["usage"]
    return Capability(
        code=str(capability["code"]),
        type=str(capability["type"]),
        period=str(capability["periodType"]),
        current=_number(usage["current"]),
        max=_number(usage["max"]),
    )


def _credits(api: Api) -> tuple[Credits | None, str]:
    try:
        body = api.get(CREDITS_PATH)
    except ApiError as error:
        return None, _unreadable(error, _CREDITS_UNREADABLE, "the credit balance was not checked")
    data = (body or {}).get("data") or {}
    return (
        Credits(
            balance=_number(data["creditBalance"]),
            realtime=_number(data["realtimeBalance"]),
            pending=_number(data["pendingConsumption"]),
        ),
        "",
    )


def _unreadable(error: ApiError, expected: Mapping[int, str], what: str) -> str:
    """The note for an answer that only means "unknown"; any other failure is raised."""
    if isinstance(error, TransportError) or error.status not in expected:
        raise error
    reason = expected[error.status or 0]
    detail = f" ({error.code})" if error.code else ""
    why = f"; {reason}" if reason else ""
    return f"{what}: {error.method} {error.path} answered HTTP {error.status}{detail}{why}"


def _number(value: Any) -> float:
    """A number the contract let through (a JSON number or a decimal string), kept within
    +-1e18 so that an absurdly long decimal string cannot become an infinity."""
    return min(max(float(value), -_LIMIT), _LIMIT)
