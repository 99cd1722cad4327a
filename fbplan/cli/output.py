"""`fbplan output`, and the outputs step of `apply` (after a successful apply, before smoke)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from fbplan.cli.console import err, out, parse_vars, request_logger, setup_logging, user_errors
from fbplan.cli.options import format_option, spec_argument, spec_run_options
from fbplan.errors import ConfigError
from fbplan.outputs import declared, resolve
from fbplan.outputs.render import render
from fbplan.outputs.targets import targets_of, write_targets
from fbplan.smoke.runner import Pins
from fbplan.spec import Spec, load_spec
from fbplan.workflow import Connection, connect


def github_mask(value: str) -> None:
    """Ask the GitHub Actions runner to mask `value` in every later log line. The one line
    that carries a secret to stdout on purpose: the runner reads it and never shows it."""
    click.echo(f"::add-mask::{value}")


def publish_outputs(
    spec: Spec, connection: Connection, say: Callable[[str], None] = out
) -> Pins | None:
    """Resolve the spec's outputs and write its targets; the values smoke checks must use.
    `say` shows the result line (stdout, or stderr when stdout carries JSON events)."""
    if not declared(spec):
        return None
    outputs = resolve(spec, connection)
    if targets_of(spec):
        written = write_targets(spec, outputs, env=os.environ, mask=github_mask)
        for item in written:
            if item.skipped:
                err(f"Outputs: target {item.target} skipped: {item.skipped}.")
        done = [f"{w.target} ({w.description})" for w in written if not w.skipped]
        count = len(outputs.values)
        plural = "s" if count != 1 else ""
        say(f"Outputs: {count} value{plural} written to {', '.join(done) or 'no target'}.")
        endpoints = any(v.source in ("bridge_endpoint", "ai_base_url") for v in outputs.values)
        if connection.local is not None and endpoints:
            err(
                "Outputs: with --local, endpoints point at the embedded emulator, which stops "
                "with this command; run `fbplan emulator` for one that stays up."
            )
    return outputs.pins()


@click.command()
@spec_argument
@click.argument("name", required=False)
@spec_run_options
@format_option("text", "json", "dotenv")
@click.option(
    "--show-secrets",
    is_flag=True,
    help="Show secret values; only to a file or a pipe, never to a terminal.",
)
def output(
    spec: str,
    name: str | None,
    local: bool,
    variables: tuple[str, ...],
    verbose: bool,
    output_format: str,
    show_secrets: bool,
) -> None:
    """Print SPEC's outputs (or only NAME) from the live workspace and the secret sink.

    Secrets are masked unless --show-secrets, which refuses to print them on a terminal
    (where they would stay on screen and in its scrollback): redirect stdout to a file or
    a pipe.
    """
    setup_logging(verbose)
    with user_errors():
        if show_secrets and sys.stdout.isatty():
            raise ConfigError(
                "--show-secrets prints secrets only to a file or a pipe, not to a terminal; "
                "redirect it, e.g. fbplan output SPEC --format dotenv --show-secrets > app.env"
            )
        loaded = load_spec(spec, cli_vars=parse_vars(variables), require_env=False)
        if not declared(loaded):
            raise ConfigError(f"{spec} declares no outputs (outputs.values)")
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            outputs = resolve(loaded, connection, (name,) if name else ())
        outputs.check_known()
        text = render(outputs, output_format, show_secrets=show_secrets, single=bool(name))
        if show_secrets:
            click.echo(text, nl=False)  # unredacted on purpose: not a terminal, checked above
        else:
            out(text)
            masked = sum(v.sensitive for v in outputs.values)
            if masked:
                err(
                    f"{masked} secret value{'s are' if masked != 1 else ' is'} masked; "
                    "--show-secrets shows them (to a file or a pipe)."
                )
