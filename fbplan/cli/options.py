"""Options shared by several commands, declared once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click

from fbplan.kinds.base import DEFAULT_PARALLELISM, MAX_PARALLELISM

F = Callable[..., Any]


def spec_argument(f: F) -> F:
    return click.argument("spec", type=click.Path(exists=False, dir_okay=True))(f)


def local_option(f: F) -> F:
    return click.option(
        "--local",
        is_flag=True,
        help="Run against an embedded emulator kept under .fbplan/ instead of FB_BACKEND_URL.",
    )(f)


def var_option(f: F) -> F:
    return click.option(
        "--var",
        "variables",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a spec variable (${var:NAME}); overrides the spec's variables.",
    )(f)


def verbose_option(f: F) -> F:
    return click.option("-v", "--verbose", is_flag=True, help="Log every API request to stderr.")(f)


def spec_run_options(f: F) -> F:
    """--local, --var and --verbose: what every command that reads a spec and a backend takes."""
    return verbose_option(var_option(local_option(f)))


def planning_options(f: F) -> F:
    f = click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDR",
        help="Limit the plan to ADDR, what it contains and what it depends on.",
    )(f)
    f = click.option(
        "--exclude",
        "excludes",
        multiple=True,
        metavar="ADDR",
        help="Leave ADDR, what it contains and the changes that need it out of the plan.",
    )(f)
    f = click.option(
        "--rotate",
        multiple=True,
        metavar="ADDR",
        help="Renew the credentials of ADDR (a new key) or rewrite its write-only secrets.",
    )(f)
    f = click.option(
        "--force",
        is_flag=True,
        help="Allow a plan that deletes or replaces more than a third of a kind.",
    )(f)
    return spec_run_options(f)


def format_option(*choices: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def parallelism_option(f: F) -> F:
    return click.option(
        "--parallelism",
        default=DEFAULT_PARALLELISM,
        show_default=True,
        type=click.IntRange(1, MAX_PARALLELISM),
        help="How many changes may run at once.",
    )(f)


def break_lock_option(f: F) -> F:
    return click.option(
        "--break-lock", is_flag=True, help="Remove a stale workspace lock left by a crashed run."
    )(f)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}


class Duration(click.ParamType):
    """`90`, `90s`, `5m`, `1h30m`: seconds as a float."""

    name = "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(f"{value!r} is not a duration (e.g. 90s, 5m, 1h30m)", param, ctx)
        return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def lock_timeout_option(f: F) -> F:
    return click.option(
        "--lock-timeout",
        type=Duration(),
        default="0s",
        metavar="DURATION",
        help="Wait up to DURATION (e.g. 30s, 5m) for a workspace lock held by a running apply.",
    )(f)


def checks_option(f: F) -> F:
    return click.option(
        "--checks",
        "checks_path",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Evaluate the plan checks of FILE (docs/checks.md): a deny blocks (exit 3).",
    )(f)
