"""`fbplan`: the command group. Exit codes, the same for every command (README.md):
0 success (a plain `plan` too when it shows changes), 1 error, 2 changes or drift pending,
3 blocked by a safety rule, 4 apply succeeded but a smoke check failed."""

from __future__ import annotations

import sys
from typing import Any

import click

from fbplan import __version__
from fbplan.cli.apply import apply, destroy
from fbplan.cli.emulator import emulator
from fbplan.cli.output import output
from fbplan.cli.plan import drift, export, plan, validate
from fbplan.cli.smoke import smoke, stats


class FbplanGroup(click.Group):
    """click's group, with the CLI contract's exit codes: a usage mistake is an error (1),
    never 2, which scripts read as "changes or drift pending"."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as error:
            error.show()
            sys.exit(1)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(
    cls=FbplanGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="fbplan")
def cli() -> None:
    """Declarative provisioning for the Flashback platform.

    \b
    Exit codes: 0 success (a plain plan also exits 0 when it shows changes),
    1 error, 2 changes or drift pending (plan --detailed-exitcode, drift),
    3 blocked by a safety rule, 4 a smoke check failed.
    Start with: fbplan apply --local --yes examples/quickstart.yaml
    """


for command in (validate, plan, apply, destroy, drift, smoke, stats, output, export, emulator):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="fbplan")
