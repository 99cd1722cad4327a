"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

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
        default=8,
        show_default=True,
        type=click.IntRange(1, 64),
        help="How many changes may run at once.",
    )(f)


def break_lock_option(f: F) -> F:
    return click.option(
        "--break-lock", is_flag=True, help="Remove a stale workspace lock left by a crashed run."
    )(f)
