"""`fbplan show`: a saved plan rendered again, in any format, with no backend and no spec.

It reads only the plan file (bounded in size, checked like `apply --plan` checks it), so a
reviewer or a CI step can turn the plan a PR job saved into markdown or JSON later.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from fbplan.cli.console import out, user_errors
from fbplan.cli.options import format_option
from fbplan.plan.model import Plan
from fbplan.plan.planfile import load_plan
from fbplan.plan.render import render_json, render_markdown, render_text


def render(
    plan: Plan,
    output_format: str,
    *,
    drift: bool = False,
    title: str | None = None,
    verbose: bool = False,
    approvals: bool = True,
) -> str:
    match output_format:
        case "json":
            return render_json(plan, drift=drift)
        case "markdown":
            return render_markdown(plan, drift=drift)
        case _:
            color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")  # no-color.org
            return render_text(
                plan, drift=drift, color=color, title=title, verbose=verbose, approvals=approvals
            )


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@format_option("text", "json", "markdown")
def show(planfile: str, output_format: str) -> None:
    """Render a saved plan (plan --out) again; no backend call, no spec needed."""
    with user_errors():
        out(render(load_plan(Path(planfile)), output_format))
