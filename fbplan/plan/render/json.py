"""The plan (or drift report) as its JSON document (encoded by `fbplan.plan.document`)."""

from __future__ import annotations

from fbplan.plan import document
from fbplan.plan.model import Plan


def render_json(plan: Plan, *, drift: bool = False) -> str:
    return document.dumps(document.to_document(plan, drift=drift))
