"""What a plan is computed from: the user's request and the facts read before planning.

`PlanRequest` is the one options record of plan, apply, destroy and drift: what the user
asked for. `PlanInputs` holds everything else, read by the workflow before the planner
runs (the desired and live States, the sink's and the organization's facts), so that the
planner is a function of values and never reaches for the backend itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from fbplan.model import State
from fbplan.plan.diff import SecretHeldFn, SecretStatusFn
from fbplan.plan.model import Ignored, Plan
from fbplan.plan.quota import QuotaFacts

if TYPE_CHECKING:
    from fbplan.checks import Checks


@dataclass(frozen=True)
class PlanRequest:
    """`saved`: with `apply --plan`, the reviewed plan this run must reproduce exactly."""

    spec_path: str | Path
    cli_vars: Mapping[str, str] = field(default_factory=dict)
    rotate: Sequence[str] = ()
    targets: Sequence[str] = ()
    force: bool = False
    env: Mapping[str, str] | None = None
    excludes: Sequence[str] = ()
    saved: Plan | None = None
    checks: Checks | None = None  # `--checks FILE`, loaded (and compiled) before any request


class NamesElsewhere(Protocol):
    """Names other workspaces of the organization already use (one list call per kind,
    made only for the kinds the plan creates)."""

    def taken(self, kind: str, field: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class SinkFacts:
    """What planning needs to know of the secret sink: whether there is one, and, for the
    keys the spec declares, the entries that belong to another backend or workspace
    (address -> why writing it would lose that environment's secret)."""

    configured: bool
    foreign: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanInputs:
    """`sink` and `names_elsewhere` are None where their checks do not apply (drift reads
    only, destroy creates nothing)."""

    desired: State
    live: State
    spec_digest: str = ""
    prune: frozenset[str] = frozenset()
    secret_status: SecretStatusFn | None = None
    secret_held: SecretHeldFn | None = None
    sink: SinkFacts | None = None
    names_elsewhere: NamesElsewhere | None = None
    backend: str = ""
    org_id: str = ""
    quota: QuotaFacts | None = None  # the organization's quota and credits, when read
    ignored: tuple[Ignored, ...] = ()  # drift the spec's `ignore` set aside before the diff
    approved: tuple[str, ...] = ()  # the spec's `approve:` list
