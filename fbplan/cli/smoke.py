"""`fbplan smoke` and `fbplan stats`."""

from __future__ import annotations

import sys

import click

from fbplan.cli.console import err, out, parse_vars, request_logger, setup_logging, user_errors
from fbplan.cli.options import (
    format_option,
    spec_argument,
    spec_run_options,
)
from fbplan.errors import ConfigError
from fbplan.outputs import smoke_pins
from fbplan.smoke import SmokeReport, SmokeStep, TargetResult, render_json, render_text
from fbplan.smoke.runner import StepCallback, require_packages, run_smoke
from fbplan.spec import Spec, load_spec
from fbplan.stats import collect_stats
from fbplan.stats import render_json as stats_json
from fbplan.stats import render_text as stats_text
from fbplan.workflow import connect


def _step_line(target: TargetResult, step: SmokeStep) -> None:
    status = "ok" if step.ok else "FAILED"
    err(f"{target.name}: {step.name} {status} ({step.seconds:.2f} s): {step.message}")


def smoke_progress() -> StepCallback | None:
    """One line per step on stderr as the checks run, for a report that goes to a file or
    a pipe; none when stdout is a terminal, where the report shows every step right after."""
    return None if sys.stdout.isatty() else _step_line


def render_smoke(report: SmokeReport, output_format: str) -> str:
    return render_json(report) if output_format == "json" else render_text(report)


def exit_for(report: SmokeReport) -> None:
    """Exit 4 with one line per failed target on stderr when a check failed."""
    error = report.error()
    if error is None:
        return
    for target in report.failures():
        err(f"Error: {target.problem()}")
    sys.exit(error.exit_code)


def _require_smoke_values(spec: Spec) -> None:
    """Smoke needs no provisioning secret, but every value of its own section."""
    for problem in spec.warnings:
        if problem.field.startswith("smoke"):
            raise ConfigError(str(problem))


@click.command()
@spec_argument
@spec_run_options
@format_option("text", "json")
def smoke(
    spec: str, local: bool, variables: tuple[str, ...], verbose: bool, output_format: str
) -> None:
    """Run SPEC's smoke checks: write, read and delete an object through a Bridge Node, and
    ask the AI gateway for a chat completion. Exit 0 when all pass, 4 when one fails."""
    setup_logging(verbose)
    with user_errors():
        loaded = load_spec(spec, cli_vars=parse_vars(variables), require_env=False)
        _require_smoke_values(loaded)
        require_packages(loaded)
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            pins = smoke_pins(loaded, connection)
            report = run_smoke(loaded, connection, on_step=smoke_progress(), pins=pins)
        out(render_smoke(report, output_format))
    exit_for(report)


@click.command()
@spec_argument
@spec_run_options
@format_option("text", "json")
def stats(
    spec: str, local: bool, variables: tuple[str, ...], verbose: bool, output_format: str
) -> None:
    """Show usage of SPEC's repositories and buckets: totals, the last hour, Bridge Node
    latency and status, and AI usage."""
    setup_logging(verbose)
    with user_errors():
        loaded = load_spec(spec, cli_vars=parse_vars(variables), require_env=False)
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            report = collect_stats(loaded, connection)
        out(stats_json(report) if output_format == "json" else stats_text(report))
