"""Quota and credit preflight: would the plan's creates exceed the organization's quota?

The backend refuses a create over quota in the middle of apply (429 on buckets,
`QUOTA_EXCEEDED` on repositories). The plan can say so first, from what `GET /user/quota`
and `GET /credits/balance` answered (read by `fbplan.backend.quota` into `QuotaFacts`).

The rule is a pure function of the plan's changes and those facts. Each kind names the
capability code that counts its objects (`Kind.quota_capability`); a capability's
"planned" usage is its current usage plus the plan's creates of the kinds it counts.
Deletes are not subtracted and replaces not added: apply runs deletes and creates in
dependency order, not all deletes first, so a create may well come before the delete that
would have made room, while a replace deletes its old object before it creates the new one.
A plan is blocked when a capability's planned usage exceeds its maximum.

Credits pay for egress through Bridge Nodes and for LLM tokens (flashback-api.md section
15), not for management calls, and no endpoint documents a refusal for lack of credits: a
balance at or below zero is a note, not a blocker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fbplan.plan.model import Action, Blocker, Change

#: At most this many capabilities are kept from one answer (a subscription has a handful).
MAX_CAPABILITIES = 200


@dataclass(frozen=True)
class Capability:
    """One limit of the organization's subscription, as `GET /user/quota` reported it."""

    code: str
    type: str
    period: str
    current: float
    max: float


@dataclass(frozen=True)
class Credits:
    """The organization's credit balance (`GET /credits/balance`)."""

    balance: float  # creditBalance
    realtime: float  # realtimeBalance: the balance less pending consumption
    pending: float

    @property
    def exhausted(self) -> bool:
        return min(self.balance, self.realtime) <= 0


@dataclass(frozen=True)
class QuotaFacts:
    """What the backend told about quota and credits. `capabilities` is None when the quota
    could not be read (no active subscription, a token without the right), `credits` None
    when the balance could not; `notes` say why."""

    capabilities: tuple[Capability, ...] | None
    credits: Credits | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuotaRow:
    """One capability with the plan's effect on it."""

    code: str
    type: str
    period: str
    current: float
    planned: float
    max: float
    creates: tuple[str, ...] = ()  # the addresses the plan creates that it counts

    @property
    def over(self) -> bool:
        return bool(self.creates) and self.planned > self.max


@dataclass(frozen=True)
class QuotaReport:
    """The plan's quota section: every capability read, and the credit balance."""

    checked: bool  # the quota was read (else: not checked, see the plan's notes)
    rows: tuple[QuotaRow, ...] = ()
    credits: Credits | None = None

    @property
    def affected(self) -> tuple[QuotaRow, ...]:
        """The rows the plan's creates count against."""
        return tuple(row for row in self.rows if row.creates)


def quota_report(
    changes: Iterable[Change], facts: QuotaFacts, counted_by: Mapping[str, str]
) -> QuotaReport:
    """The plan's effect on each capability. `counted_by` maps a kind to the code of the
    capability that counts its objects (kinds no capability counts are not limited)."""
    creates: dict[str, list[str]] = {}
    for change in changes:
        code = counted_by.get(change.kind)
        if change.action is Action.CREATE and code:
            creates.setdefault(code, []).append(change.address)
    if facts.capabilities is None:
        return QuotaReport(False, (), facts.credits)
    rows = tuple(
        QuotaRow(
            c.code,
            c.type,
            c.period,
            c.current,
            c.current + len(creates.get(c.code, ())),
            c.max,
            tuple(sorted(creates.get(c.code, ()))),
        )
        for c in facts.capabilities
    )
    return QuotaReport(True, rows, facts.credits)


def quota_blockers(report: QuotaReport) -> list[Blocker]:
    """One blocker per capability the plan's creates would take over its maximum."""
    return [
        Blocker(
            "quota",
            f"the plan would take the organization's quota {row.code} over its maximum: "
            f"{number(row.current)} used + {len(row.creates)} created = {number(row.planned)} "
            f"> {number(row.max)}; free capacity, raise the quota or create fewer",
            row.creates,
        )
        for row in report.rows
        if row.over
    ]


def credit_notes(report: QuotaReport) -> list[str]:
    credits = report.credits
    if credits is None or not credits.exhausted:
        return []
    return [
        f"the organization's credit balance is {number(credits.realtime)} (GET "
        "/credits/balance): creates are not refused for it, but traffic through Bridge Nodes "
        "and the AI gateway (smoke checks included) consumes credits and may be refused"
    ]


def plain(value: float) -> int | float:
    """A whole number as an int (a count reads `3`, not `3.0`)."""
    return int(value) if float(value).is_integer() else float(value)


def number(value: float) -> str:
    """A count or amount as text, without a needless `.0`."""
    return str(plain(value))
