"""Renderers of a Plan: text (terminal, CI log), JSON (machines) and markdown (PR comments).

All three lay out the same data; text and markdown share one row model (`rows`). Every
output is passed through `fbplan.secrets.values.redact` before it is returned.
"""

from __future__ import annotations

from fbplan.plan.render.json import render_json
from fbplan.plan.render.markdown import render_markdown
from fbplan.plan.render.text import render_text

__all__ = ["render_json", "render_markdown", "render_text"]
