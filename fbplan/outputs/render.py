"""`fbplan output` formats: text for people, JSON and dotenv for programs.

Secrets are masked unless `show_secrets`; the CLI decides where an unmasked document may go.
"""

from __future__ import annotations

import json

from fbplan.outputs import Outputs, OutputValue
from fbplan.outputs.targets import check_format, dotenv_line
from fbplan.secrets.values import MASK


def render(outputs: Outputs, output_format: str, *, show_secrets: bool, single: bool) -> str:
    """The outputs as `text`, `json` or `dotenv`; `single`: one value, alone (text, json)."""
    shown = {v.name: _shown(v, show_secrets) for v in outputs.values}
    if output_format == "dotenv":
        for value in outputs.values:
            if show_secrets or not value.sensitive:
                check_format("dotenv", value, "dotenv")
        return "".join(dotenv_line(name, text) + "\n" for name, text in shown.items())
    if output_format == "json":
        if single:
            return json.dumps(next(iter(shown.values()))) + "\n"
        document = {
            v.name: {"value": shown[v.name], "sensitive": v.sensitive, "source": v.origin}
            for v in outputs.values
        }
        return json.dumps(document, indent=2) + "\n"
    if single:
        return next(iter(shown.values())) + "\n"
    width = max((len(name) for name in shown), default=0)
    lines = [f"{name:<{width}}  {shown[name]}" for name in shown]
    lines += ["", "Where each value comes from:"]
    lines += [f"  {v.name}: {v.origin}" for v in outputs.values]
    return "\n".join(lines) + "\n"


def _shown(value: OutputValue, show_secrets: bool) -> str:
    return value.plain() if show_secrets or not value.sensitive else MASK
