"""Smoke checks: prove that what apply made works from an application's point of view.

    spec.smoke ─► runner (targets, credentials, endpoint choice) ─┬─► storage: put, get,
                                                                  │   delete, gone (boto3)
                                                                  └─► ai: one chat completion
                                                                      (openai SDK)
                  ─► SmokeReport (plain data) ─► text | JSON

This module holds the report: plain data, one `TargetResult` per smoke target, one
`SmokeStep` per step with its time, the endpoint it used and a message. Every message is
redacted when it is made; no secret value is ever part of a report. `run_smoke` lives in
`fbplan.smoke.runner`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from fbplan.errors import SmokeError
from fbplan.printable import printable
from fbplan.secrets.values import redact

Outcome = Literal["passed", "failed", "blocked"]
FailureKind = Literal["hard", "soft", "unreachable"]


@dataclass(frozen=True)
class SmokeStep:
    """One step of one target: `credentials`, `endpoint`, `put`, `get`, `delete`, `gone`,
    `chat`, `wait` or `switch`. `fix` says what to do when the step failed."""

    name: str
    ok: bool
    seconds: float
    endpoint: str | None
    message: str
    fix: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", redact(self.message))
        object.__setattr__(self, "fix", redact(self.fix))


@dataclass(frozen=True)
class Failure:
    """How an attempt failed: `hard` (a fix is needed), `soft` (403/429/QUOTA_EXCEEDED: try
    another route or wait) or `unreachable` (try another route)."""

    kind: FailureKind
    retry_after: float | None = None


@dataclass
class Attempt:
    """The steps of one try of a target through one route; `failure` None means it passed."""

    steps: list[SmokeStep] = field(default_factory=list)
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass
class TargetResult:
    """The outcome of one smoke target (`storage app/app-rw`, `ai app/app-ai`)."""

    kind: Literal["storage", "ai"]
    repo: str
    key: str
    address: str
    steps: list[SmokeStep] = field(default_factory=list)
    outcome: Outcome = "passed"
    waited_seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.kind} {self.repo}/{self.key}"

    @property
    def ok(self) -> bool:
        return self.outcome == "passed"

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the last step that used one."""
        return next((s.endpoint for s in reversed(self.steps) if s.endpoint), None)

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.steps), 3)

    @property
    def failed_step(self) -> SmokeStep | None:
        return next((s for s in reversed(self.steps) if not s.ok), None)

    def problem(self) -> str:
        """One sentence naming the target, the step, the endpoint and a fix ('' if it passed)."""
        step = self.failed_step
        if self.ok or step is None:
            return ""
        where = f" at {step.endpoint}" if step.endpoint else ""
        verb = "is blocked by quota" if self.outcome == "blocked" else "failed"
        text = f"smoke {self.name} {verb} at step {step.name}{where}: {step.message}"
        if self.outcome == "blocked":
            text += f" (waited {self.waited_seconds:.1f} s in all)"
        return redact(f"{text}. Fix: {step.fix}" if step.fix else text)


@dataclass
class SmokeReport:
    """Every smoke target's result, in spec order (storage first, then AI)."""

    targets: list[TargetResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.targets)

    def failures(self) -> list[TargetResult]:
        return [t for t in self.targets if not t.ok]

    def summary(self) -> str:
        counts = {o: sum(t.outcome == o for t in self.targets) for o in ("passed", "failed")}
        blocked = sum(t.outcome == "blocked" for t in self.targets)
        total = len(self.targets)
        text = f"Smoke: {total} check{'s' if total != 1 else ''}, {counts['passed']} passed"
        text += f", {counts['failed']} failed" if counts["failed"] else ""
        return text + (f", {blocked} blocked by quota." if blocked else ".")

    def error(self) -> SmokeError | None:
        """The `SmokeError` (exit code 4) to raise when a check failed, else None."""
        problems = [t.problem() for t in self.failures()]
        if not problems:
            return None
        return SmokeError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "targets": [
                {
                    "name": t.name,
                    "kind": t.kind,
                    "repo": t.repo,
                    "key": t.key,
                    "address": t.address,
                    "outcome": t.outcome,
                    "ok": t.ok,
                    "endpoint": t.endpoint,
                    "seconds": t.seconds,
                    "waited_seconds": round(t.waited_seconds, 3),
                    "problem": t.problem() or None,
                    "steps": [asdict(s) for s in t.steps],
                }
                for t in self.targets
            ],
        }


def render_json(report: SmokeReport) -> str:
    return redact(json.dumps(report.to_dict(), indent=2, sort_keys=False)) + "\n"


_MARK = {"passed": "ok", "failed": "FAILED", "blocked": "BLOCKED"}


def render_text(report: SmokeReport) -> str:
    """A readable report: one block per target, one line per step with its time."""
    if not report.targets:
        return "Smoke: the spec declares no smoke checks (smoke.storage, smoke.ai).\n"
    lines = []
    for target in report.targets:
        via = f" via {target.endpoint}" if target.endpoint else ""
        lines.append(f"{_MARK[target.outcome]:<7} {target.name}{via} ({target.seconds:.2f} s)")
        for step in target.steps:
            mark = " " if step.ok else "!"
            lines.append(f"  {mark} {step.name:<11} {step.seconds:7.3f} s  {step.message}")
        if not target.ok:
            lines.append(f"  -> {target.problem()}")
    lines.append(report.summary())
    return redact("\n".join(printable(line) for line in lines)) + "\n"
