"""`fbplan`: the command group. Exit codes, the same for every command (README.md):
0 success (a plain `plan` too when it shows changes), 1 error, 2 changes or drift pending,
3 blocked by a safety rule, 4 apply succeeded but a smoke check failed."""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from fbplan import __version__

#: Each command: the module that defines it, and its one-line help for `fbplan --help`
#: (tests/unit/test_cli_startup.py checks these lines against the commands' own help).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("fbplan.cli.validate", "Check SPEC: schema, references, secret fields."),
    "plan": (
        "fbplan.cli.plan",
        "Show what apply would change to make the live workspace match SPEC.",
    ),
    "apply": (
        "fbplan.cli.apply",
        "Make the live workspace match SPEC (or carry out a saved plan).",
    ),
    "destroy": (
        "fbplan.cli.apply",
        "Delete everything SPEC declares, in reverse dependency order (honours protect).",
    ),
    "drift": ("fbplan.cli.plan", "Compare the live workspace with SPEC."),
    "smoke": (
        "fbplan.cli.smoke",
        "Run SPEC's smoke checks: write, read and delete an object through a Bridge Node, "
        "and ask the AI gateway for a chat completion.",
    ),
    "stats": (
        "fbplan.cli.smoke",
        "Show usage of SPEC's repositories and buckets: totals, the last hour, Bridge Node "
        "latency and status, and AI usage.",
    ),
    "output": (
        "fbplan.cli.output",
        "Print SPEC's outputs (or only NAME) from the live workspace and the secret sink.",
    ),
    "show": (
        "fbplan.cli.show",
        "Render a saved plan (plan --out) again; no backend call, no spec needed.",
    ),
    "export": ("fbplan.cli.plan", "Print the spec YAML of what exists in a workspace."),
    "emulator": ("fbplan.cli.emulator", "Run a local Flashback backend until interrupted."),
    "stacks": (
        "fbplan.cli.stacks",
        "Print a CI job matrix with one job per stack (one spec per workspace).",
    ),
}


class FbplanGroup(click.Group):
    """click's group, with the CLI contract's exit codes: a usage mistake is an error (1),
    never 2, which scripts read as "changes or drift pending".

    Commands are imported when they run, not before: `fbplan --help` and `fbplan validate`
    start without loading the HTTP client, the emulator or the smoke checks.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command = getattr(importlib.import_module(COMMANDS[cmd_name][0]), cmd_name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands' one-line help, from the table, so that help imports no command."""
        width = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _short(COMMANDS[name][1], width)) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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


def _short(text: str, limit: int) -> str:
    """`text` shortened to `limit` the way click shortens a command's help."""
    return click.Command(None, help=text).get_short_help_str(limit)


def main() -> None:
    # A command is a short-lived process that builds large, acyclic data (a spec, a plan)
    # and keeps it to the end: collecting every 700 allocations, as by default, spends a
    # third of a large spec's load time scanning objects that are all still in use.
    gc.set_threshold(50_000, 20, 100)
    cli(prog_name="fbplan")
