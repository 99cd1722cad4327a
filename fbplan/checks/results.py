"""What evaluating a checks file over a plan found: plain data, kept in the Plan and in its
JSON document (the `checks` section), so that a saved plan carries it too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["deny", "warn"]


@dataclass(frozen=True)
class Finding:
    """One rule that fired for one change. `error` is set when the expression could not be
    evaluated for that change: such a finding is always a deny (checks fail closed)."""

    rule: str
    outcome: Outcome
    address: str
    message: str
    error: str | None = None

    def line(self) -> str:
        """One line for the reader: the rule, the resource and what is wrong."""
        if self.error:
            return (
                f"check {self.rule} could not be evaluated for {self.address} "
                f"(counted as a deny): {self.error}"
            )
        return f"check {self.rule}: {self.message} ({self.address})"


@dataclass(frozen=True)
class CheckResults:
    """The outcome of one checks file over one plan."""

    file: str
    digest: str  # sha256 of the checks file's bytes
    rules: int
    evaluations: int
    findings: tuple[Finding, ...] = ()

    @property
    def denies(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.outcome == "deny")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.outcome == "warn")

    def blocking(self) -> list[tuple[str, tuple[str, ...]]]:
        """The denies as (sentence, addresses), one per rule and error: what blocks apply."""
        grouped: dict[str, list[str]] = {}
        for finding in self.denies:
            if finding.error:
                sentence = (
                    f"check {finding.rule} could not be evaluated (counted as a deny): "
                    f"{finding.error}"
                )
            else:
                sentence = f"check {finding.rule}: {finding.message}"
            grouped.setdefault(sentence, []).append(finding.address)
        return [(sentence, tuple(addresses)) for sentence, addresses in grouped.items()]

    def summary(self) -> str:
        """E.g. `Checks (checks.yaml): 3 rules, 12 evaluations: 1 denied, 2 warnings.`"""
        return (
            f"Checks ({self.file}): {_count(self.rules, 'rule')}, "
            f"{_count(self.evaluations, 'evaluation')}: {len(self.denies)} denied, "
            f"{_count(len(self.warnings), 'warning')}."
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "digest": self.digest,
            "rules": self.rules,
            "evaluations": self.evaluations,
            "denied": len(self.denies),
            "warned": len(self.warnings),
            "findings": [
                {
                    "rule": f.rule,
                    "outcome": f.outcome,
                    "address": f.address,
                    "message": f.message,
                    "error": f.error,
                }
                for f in self.findings
            ],
        }

    @classmethod
    def from_document(cls, item: dict[str, Any]) -> CheckResults:
        """The inverse of `to_document`, for a validated plan document."""
        findings = tuple(
            Finding(f["rule"], f["outcome"], f["address"], f["message"], f.get("error"))
            for f in item["findings"]
        )
        return cls(item["file"], item["digest"], item["rules"], item["evaluations"], findings)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
